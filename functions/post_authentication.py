"""Cognito PostAuthentication trigger: refresh the user's mirror row, never block sign-in."""

from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import (
    PostAuthenticationTriggerEvent,
)

from functions.common.trigger import trigger_handler

SOURCES = frozenset({"PostAuthentication_Authentication"})

handler = trigger_handler("post_authentication", SOURCES, PostAuthenticationTriggerEvent)
