# Relais: `relais serve` on port 8000; the same image runs `relais scheduler`,
# `relais worker` and `relais db upgrade` (see compose.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    RELAIS_INSTANCE=/var/lib/relais \
    HOST=0.0.0.0 \
    PORT=8000

# DejaVu draws the accents on the generated share images.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --user-group --home-dir /var/lib/relais --create-home \
        --shell /usr/sbin/nologin relais

# The locked, hashed dependencies first: this layer stays cached until the lock changes.
COPY requirements/main.txt /tmp/requirements.txt
RUN pip install --require-hashes -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY . /tmp/relais
RUN pip install --no-deps /tmp/relais && rm -rf /tmp/relais

# The instance folder (uploads; the SQLite file when DATABASE_URL is unset).
VOLUME /var/lib/relais
WORKDIR /var/lib/relais
USER relais
EXPOSE 8000

# Liveness (/healthz: no database call); the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('PORT') or '8000'), timeout=4)"

CMD ["relais", "serve"]
