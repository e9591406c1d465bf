"""Business refusals as non-retryable ``ApplicationError``s, typed by ``domain.enums.ErrorType``."""

from temporalio.exceptions import ApplicationError

from domain.enums import ErrorType


def refusal(error_type: ErrorType, message: str) -> ApplicationError:
    return ApplicationError(message, type=error_type.value, non_retryable=True)
