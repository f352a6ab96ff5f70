"""A handler importing nothing, so start-up measures the runtime alone."""


def handler(event, context):
    return None
