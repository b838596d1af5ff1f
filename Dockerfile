FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml ./
RUN pip install .

COPY . .
# collectstatic needs settings but no real secret or database. Translations ship compiled.
RUN SECRET_KEY=build-only DEBUG=false ALLOWED_HOSTS=localhost python manage.py collectstatic --no-input -v0

RUN useradd --system --uid 10001 app && mkdir -p /app/var && chown app /app/var
USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
