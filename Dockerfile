FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# WeasyPrint (the visit sheet's PDF) draws text with Pango.
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml ./
RUN pip install .

COPY . .
# collectstatic loads the production settings, which refuse to start without their required
# values. These are build-only stand-ins that pass the checks and are never used again: a key
# made up for this step (not kept in the image), and .invalid addresses nothing answers at.
# Translations ship compiled.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    ALLOWED_HOSTS=build.invalid SITE_URL=https://build.invalid EMAIL_URL=smtp://build.invalid:25 \
    REDIS_URL=redis://build.invalid:6379/0 \
    python manage.py collectstatic --no-input -v0

RUN useradd --system --uid 10001 app && mkdir -p /app/var && chown app /app/var
USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "--logger-class", "config.gunicorn_logging.RedactingLogger"]
