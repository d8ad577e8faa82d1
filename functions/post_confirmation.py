"""Cognito PostConfirmation trigger: mirror the newly confirmed user, never block sign-up."""

from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import (
    PostConfirmationTriggerEvent,
)

from functions.common.trigger import trigger_handler

SOURCES = frozenset({"PostConfirmation_ConfirmSignUp", "PostConfirmation_ConfirmForgotPassword"})

handler = trigger_handler("post_confirmation", SOURCES, PostConfirmationTriggerEvent)
