"""The encrypting client of the transfer service: RFC 8188 aes128gcm, a CLI, and the web page's files.

Not part of the function's package (except `client/web/`, which the function serves).
"""
