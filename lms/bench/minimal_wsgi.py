"""The ceiling of the HTTP benchmark: a WSGI app without Django, on the same server as the product."""


def application(environ, start_response):
    body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
