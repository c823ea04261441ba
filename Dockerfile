# The portal as each node of the cluster test runs it (tests/hardening/cluster.py): gunicorn with
# identity.gunicorn_conf in the production profile; WEB_CONCURRENCY workers (default: one per
# CPU the container may use). Secrets come from the environment at run time, never the image.
# compose.yaml runs it; tests/hardening/test_container_files_match_cluster.py keeps both in step.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# The locked dependencies first: this layer survives changes to the code.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev
COPY . .
# collectstatic imports the production settings, which refuse to start without these:
# throwaway values for this one command, never ENV'd into the image.
RUN DJANGO_ENV=production SECRET_KEY=build-only ALLOWED_HOSTS=build.invalid \
    DATA_ENCRYPTION_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    DATABASE_URL=postgres://build.invalid/build CACHE_URL=redis://build.invalid:6379/0 \
    STATIC_ROOT=/app/staticfiles \
    /app/.venv/bin/python manage.py collectstatic --noinput -v0

FROM python:${PYTHON_VERSION}-slim-bookworm
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin portal \
    && install -d -o portal -g portal /var/lib/portal/var
COPY --from=builder /app /app
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 DJANGO_ENV=production \
    STATIC_ROOT=/app/staticfiles VAR_DIR=/var/lib/portal/var
USER portal
EXPOSE 8000
# /readyz, as the load balancer checks it (plain HTTP is exempt from the HTTPS redirect), with
# a Host the node accepts: the first of ALLOWED_HOSTS.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["python", "-c", "import os, sys, urllib.request as u; host = os.environ['ALLOWED_HOSTS'].split(',')[0].strip().lstrip('.'); r = u.Request('http://127.0.0.1:8000/readyz', headers={'Host': host}); sys.exit(u.urlopen(r, timeout=2).status != 200)"]
CMD ["gunicorn", "-c", "python:identity.gunicorn_conf", "identity.wsgi", "-b", "0.0.0.0:8000"]
