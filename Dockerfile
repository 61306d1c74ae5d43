# The gateway as a container: `gateway serve` with its config from GATEWAY_CONFIG.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install . && useradd --system --uid 10001 --no-create-home gateway \
  && install -d -o gateway -m 0700 /var/lib/gateway
# token_store: rotated OAuth refresh tokens (README, "Backend credentials that renew")
VOLUME /var/lib/gateway

USER gateway
ENV GATEWAY_CONFIG=/etc/gateway/gateway.toml PORT=8000
EXPOSE 8000
# /healthz: the process is up (liveness). Whether it can serve is /readyz, the readiness
# probe (deploy/compose.yaml says what each answers).
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=2)" || exit 1
CMD ["sh", "-c", "exec gateway serve --host 0.0.0.0 --port \"$PORT\""]
