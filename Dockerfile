# Tamas in a container: asterisk-dev/compose.yaml builds it beside a development Asterisk.
# The database is the embedded PostgreSQL in /data (set TAMAS_DATABASE_URL for a server of
# your own); recordings are read from TAMAS_RECORDINGS_ROOT.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# uid 1000: the same as the Asterisk container's asterisk user, which owns the recordings on
# the shared spool volume. PostgreSQL (embedded) refuses to run as root anyway.
RUN useradd --uid 1000 --create-home tamas \
    && mkdir -p /data /recordings \
    && chown tamas:tamas /data /recordings

WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY telephony ./telephony
COPY screenpop ./screenpop
COPY recordings ./recordings
COPY migrations ./migrations
RUN pip install . && rm -rf /src/build

USER tamas
WORKDIR /home/tamas
ENV TAMAS_DATA_DIR=/data \
    TAMAS_HOST=0.0.0.0 \
    TAMAS_PORT=8000
VOLUME ["/data"]
EXPOSE 8000
CMD ["tamas", "serve"]
