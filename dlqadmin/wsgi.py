import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlqadmin.settings")
django.setup(set_prefix=False)

from dlqadmin.core.wsgi import Handler, warm  # noqa: E402  (after setup: it loads the middleware)

application = Handler()
warm()
