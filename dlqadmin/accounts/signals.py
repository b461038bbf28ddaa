from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from dlqadmin.access.services import current_epoch

from . import sessions


@receiver(user_logged_in)
def _start_session_clock(sender, request, user, **kwargs):
    sessions.start(request.session, current_epoch(user))
