"""The GAR directory feed (ENT -> broker, GAR_REFERENCE §1): its schema, names and writer."""
