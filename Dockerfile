# dlqadmin web and scheduler image (docker-compose.yml runs web, scheduler and demo-seed from it).
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 LOG_FORMAT=json
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Bytecode compiled once here (PYTHONDONTWRITEBYTECODE stops it being written at run time):
# each start then reads it instead of compiling every module (load 1.2 -> 0.6 s, 2 MB less
# heap in every process; bench/README.md).
RUN python -m compileall -q dlqadmin
# Hashed, compressed static files served by WhiteNoise.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
RUN useradd --system --uid 10001 dlqadmin
USER dlqadmin
EXPOSE 8000
# /healthz: the process answers (no database). No curl in the slim image: Python does it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os,urllib.request as u; h=os.environ.get('ALLOWED_HOSTS','localhost').split(',')[0].lstrip('.') or 'localhost'; u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': h}), timeout=2)"]
# gunicorn.conf.py (in /app): threaded workers that keep connections alive; WEB_CONCURRENCY
# worker processes (one per core, default 2) x GUNICORN_THREADS threads (default 4).
CMD ["gunicorn", "dlqadmin.wsgi:application"]
