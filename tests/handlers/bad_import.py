"""A handler module whose import fails, for the init-error tests."""

import does_not_exist_anywhere  # noqa: F401


def handler(event, context):
    return None
