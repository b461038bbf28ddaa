# dlqadmin web and scheduler image.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Hashed, compressed static files served by WhiteNoise.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
RUN useradd --system --uid 10001 dlqadmin
USER dlqadmin
EXPOSE 8000
CMD ["gunicorn", "dlqadmin.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
