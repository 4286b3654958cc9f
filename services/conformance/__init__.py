"""The conformity harness: "is my service compatible GAR?".

It plays the broker toward a resource provider's service provider (forged Responses, valid and
adversarial, posted to its assertion consumer service) and checks an ENT's identity provider
and mediacentre calls; it reports in HTML (for people), JSON and JUnit XML (for CI).
"""
