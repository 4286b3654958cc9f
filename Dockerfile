# gar-testbed: the three services in one container.
#   docker build -t gar-testbed .
#   docker run --rm -p 8000-8002:8000-8002 gar-testbed
# then open http://localhost:8002/resource/manuel-maths-4e
#
# Production layout (README, "Production layout"): the broker alone, several worker processes,
# on PostgreSQL, keys from a mounted volume or secret store:
#   docker run --rm -v gar-keys:/data -e DATABASE_URL=postgresql://… gar-testbed gar-testbed seed
#   docker run -d -p 8000:8000 -v gar-keys:/data -e DATABASE_URL=postgresql://… \
#       -e GAR_SERVE=broker -e GAR_WORKERS=4 -e GAR_BROKER_URL=https://gar.example gar-testbed
# Keys and the SQLite file live in /data (a volume): keep it to keep the same keys, so that
# peers that registered this testbed's metadata keep trusting it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Migrations live at the repository root (migrations/), so the project is installed editable
# from its own folder, which stays the working directory.
WORKDIR /app
COPY . /app
RUN pip install -e . \
    && useradd --system --home-dir /data --create-home gar \
    && chown -R gar:gar /data

USER gar
# Listen on every interface inside the container; the public URLs are what a browser on the
# host uses (with the ports published as above). Override them when publishing elsewhere.
ENV GAR_HOST=0.0.0.0 \
    GAR_DATA_DIR=/data \
    GAR_BROKER_URL=http://localhost:8000 \
    GAR_IDP_URL=http://localhost:8001 \
    GAR_PROVIDER_URL=http://localhost:8002 \
    GAR_SERVE=testbed \
    GAR_WORKERS=2
VOLUME ["/data"]
EXPOSE 8000 8001 8002

# GAR_SERVE=testbed: `gar-testbed up` (the three services); GAR_SERVE=broker: uvicorn with
# GAR_WORKERS worker processes (deploy/serve.sh).
CMD ["/app/deploy/serve.sh"]
