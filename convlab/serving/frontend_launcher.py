"""The SageMaker TF Serving container's request front end, started from its reference folder (by `container.py`).

It runs in the environment that holds the serving image's packages, so it uses the standard library only. Two
processes make the front end, as in the container, where nginx takes every request and hands `/ping`,
`/invocations` and `/models` to gunicorn on a unix socket (its `nginx.conf.template`, filled in by `serve.py`):

- `python frontend_launcher.py <front-end folder> <model folder> <sagemaker folder> <gunicorn arguments of serve.py>`
  runs the container's `python_service.py` under gunicorn. The container reads its handlers from
  `/opt/ml/model/code/inference.py` and keeps its lock file (`multi_model_utils.lock`) and model status in
  `/sagemaker`, the folder its code is copied to; here those two folders are the given ones, for the path functions
  the container's code calls on them (`os.path.exists`, `importlib.util.spec_from_file_location`, `open`). Nothing
  else of the container's code is changed.
- `python frontend_launcher.py nginx <port> <gunicorn socket> <TF Serving port> <client timeout> <nginx version>`
  stands in for nginx with that configuration: it reads a request whole before passing it on (an HTTP/1.0 request,
  `Connection: close`, the body with its length), answers a request it cannot parse with nginx's own HTML error
  page, closes without an answer a connection whose header or body does not arrive within the client timeout
  (nginx's `client_header_timeout` and `client_body_timeout`, 60 s unless set; nginx logs it as 408), sets no body
  cap (`client_max_body_size 0`), answers any other path 404 `{"error": "Not Found"}`, and passes `/tfs/...` to
  TF Serving.
"""

import builtins
import email.utils
import importlib.util
import os
import re
import runpy
import socket
import socketserver
import sys

CONTAINER_DIRS = ("/opt/ml/model", "/sagemaker")
KEEPALIVE_SECONDS = 3  # nginx.conf.template: keepalive_timeout 3
PROXY_READ_SECONDS = 60  # serve.py: SAGEMAKER_NGINX_PROXY_READ_TIMEOUT_SECONDS, at least gunicorn's timeout
LINE_BYTES, HEAD_BYTES = 8192, 32768  # nginx's large_client_header_buffers 4 8k
REASONS = {400: "Bad Request", 404: "Not Found", 414: "Request-URI Too Large", 501: "Not Implemented", 502: "Bad Gateway"}
REASONS |= {504: "Gateway Time-out", 505: "HTTP Version Not Supported"}
UPSTREAMS = {"/ping": "gunicorn", "/invocations": "gunicorn", "/models": "gunicorn", "/tfs": "tfs"}  # nginx's locations
NOT_PASSED = {"host", "connection", "keep-alive", "expect", "upgrade", "te", "transfer-encoding", "content-length"}


def run_python_service() -> None:
    frontend, folders, gunicorn_arguments = sys.argv[1], sys.argv[2:4], sys.argv[4:]
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]  # nothing of convlab's

    def mapped(path):
        text = os.fspath(path) if isinstance(path, str | os.PathLike) else path
        for container_dir, folder in zip(CONTAINER_DIRS, folders, strict=True):
            if isinstance(text, str) and (text == container_dir or text.startswith(container_dir + "/")):
                return folder + text[len(container_dir) :]
        return path

    exists, spec_from_file, opened = os.path.exists, importlib.util.spec_from_file_location, builtins.open
    os.path.exists = lambda path: exists(mapped(path))
    builtins.open = lambda file, *args, **kwargs: opened(mapped(file), *args, **kwargs)
    importlib.util.spec_from_file_location = lambda name, location=None, **kwargs: spec_from_file(
        name, mapped(location), **kwargs
    )
    sys.path.insert(0, frontend)  # /sagemaker: python_service imports tfs_utils and multi_model_utils from there
    script = os.path.join(frontend, "python_service.py")
    sys.argv = [script, *gunicorn_arguments]
    runpy.run_path(script, run_name="__main__")


# --- the nginx stand-in ----------------------------------------------------------------------------------------


class Refused(Exception):
    """A request nginx answers itself, with its HTML error page, and then closes the connection."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def error_page(status: int, server: str) -> bytes:
    """nginx's own error page (ngx_http_error_pages)."""
    title = f"{status} {REASONS[status]}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
        f"<hr><center>{server}</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def read_line(reader, too_long: int) -> bytes:
    line = reader.readline(LINE_BYTES + 1)
    if len(line) > LINE_BYTES:
        raise Refused(too_long)
    if not line.endswith(b"\n"):
        raise ConnectionError("the client closed the connection")
    return line.rstrip(b"\r\n")


def normalized(target: bytes) -> str:
    """The request target as nginx routes it: an absolute URI's path, dot segments resolved, slashes merged."""
    target = re.sub(rb"^https?://[^/]*", b"", target, flags=re.IGNORECASE).decode("latin-1")
    path, mark, query = target.partition("?")
    if not path.startswith("/"):
        raise Refused(400)
    segments = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if not segments:
                raise Refused(400)
            segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    return "/" + "/".join(segments) + ("/" if path.endswith("/") and segments else "") + mark + query


def read_request(reader) -> tuple[str, str, tuple[int, int], list[tuple[str, str]]]:
    """The request line and header fields, as nginx parses them; `Refused` where nginx answers with an error page."""
    line = read_line(reader, 414)
    match = re.fullmatch(rb"([A-Z_-]+) +(\S+)(?: +HTTP/(\d+)\.(\d+))? *", line)
    if not match:
        raise Refused(400)
    version = (int(match.group(3)), int(match.group(4))) if match.group(3) else (0, 9)
    if version[0] > 1:
        raise Refused(505)
    headers, size = [], len(line)
    while version >= (1, 0) and (line := read_line(reader, 494)):
        size += len(line)
        if size > HEAD_BYTES:
            raise Refused(494)
        name, colon, value = line.partition(b":")
        if not colon or not name or b" " in name:
            raise Refused(400)
        if re.fullmatch(rb"[A-Za-z0-9-]+", name):  # a name with other characters is ignored (ignore_invalid_headers)
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    names = [name.lower() for name, _ in headers]
    if (version == (1, 1) and "host" not in names) or names.count("host") > 1 or names.count("content-length") > 1:
        raise Refused(400)
    return match.group(1).decode(), normalized(match.group(2)), version, headers


def read_body(reader, connection, headers: dict[str, str], version: tuple[int, int]) -> bytes | None:
    """The whole body (None without one), read with the client timeout between two reads, as nginx reads it."""
    length, coding = headers.get("content-length"), headers.get("transfer-encoding")
    if coding is not None and (length is not None or version < (1, 1)):
        raise Refused(400)
    if coding is not None and coding.lower() != "chunked":
        raise Refused(501)
    if length is not None and not length.isdigit():
        raise Refused(400)
    if coding is None and length is None:
        return None
    if "100-continue" in headers.get("expect", "").lower() and version == (1, 1):
        connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if length is not None:  # read as it comes (nginx keeps what exceeds client_body_buffer_size in a file)
        body, remaining = bytearray(), int(length)
        while remaining:
            if not (chunk := reader.read1(min(remaining, 1 << 16))):
                raise ConnectionError("the client closed the connection before the end of the body")
            body += chunk
            remaining -= len(chunk)
        return bytes(body)
    chunks = []
    while (size := read_line(reader, 400).split(b";")[0].strip()) != b"0":
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,15}", size):
            raise Refused(400)
        chunks.append(reader.read(int(size, 16)))
        if len(chunks[-1]) < int(size, 16) or read_line(reader, 400):
            raise Refused(400)
    while read_line(reader, 400):  # the trailer
        pass
    return b"".join(chunks)


def forward(address, request: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """One request to the upstream and its whole answer (it closes the connection: HTTP/1.0)."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as channel:
        try:
            channel.connect(address)
        except OSError:
            raise Refused(502) from None
        channel.settimeout(PROXY_READ_SECONDS)
        channel.sendall(request)
        answer = b""
        try:
            while chunk := channel.recv(1 << 16):
                answer += chunk
        except TimeoutError:
            raise Refused(504) from None
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not (status := re.match(r"HTTP/\d\.\d (\d{3}) ?(.*)", lines[0])):
        raise Refused(502)
    fields = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]
    length = next((value for name, value in fields if name.lower() == "content-length"), None)
    return int(status.group(1)), status.group(2), fields, body[: int(length)] if length and length.isdigit() else body


def nginx_handler(gunicorn_socket: str, tfs_port: int, client_timeout: float, server: str):
    class Handler(socketserver.StreamRequestHandler):
        def respond(self, status, reason, fields, body, keep_alive: bool, head_only: bool = False) -> None:
            lines = [f"HTTP/1.1 {status} {reason}", f"Server: {server}", f"Date: {email.utils.formatdate(usegmt=True)}"]
            lines += [f"Content-Type: {value}" for name, value in fields if name.lower() == "content-type"][:1]
            lines += [f"Content-Length: {len(body)}", f"Connection: {'keep-alive' if keep_alive else 'close'}"]
            hidden = {"server", "date", "content-type", "content-length", "connection", "keep-alive", "transfer-encoding"}
            lines += [f"{name}: {value}" for name, value in fields if name.lower() not in hidden]
            self.connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body))

        def handle(self) -> None:
            first = True
            while True:
                self.connection.settimeout(client_timeout if first else KEEPALIVE_SECONDS)
                try:
                    if not first and not self.rfile.peek(1):
                        return
                    self.connection.settimeout(client_timeout)
                    if not self.serve_one():
                        return
                except Refused as refused:
                    status = 400 if refused.status == 494 else refused.status
                    page = error_page(status, server)
                    if refused.status == 494:  # nginx's page for a header too large
                        page = page.replace(b"<title>400 Bad Request", b"<title>400 Request Header Or Cookie Too Large")
                        page = page.replace(
                            b"</h1></center>\r\n", b"</h1></center>\r\n<center>Request Header Or Cookie Too Large</center>\r\n"
                        )
                    self.respond(status, REASONS[status], [("Content-Type", "text/html")], page, status in (502, 504))
                    if status not in (502, 504):
                        return
                except (OSError, ValueError):  # a timeout or a client that hung up: nginx closes without an answer
                    return
                first = False

        def serve_one(self) -> bool:
            method, target, version, fields = read_request(self.rfile)
            headers = {name.lower(): value for name, value in fields}
            body = read_body(self.rfile, self.connection, headers, version)
            connection = headers.get("connection", "").lower()
            keep_alive = version >= (1, 1) and connection != "close" or version == (1, 0) and connection == "keep-alive"
            location = next((prefix for prefix in UPSTREAMS if target.startswith(prefix)), None)
            if location is None:  # location / { return 404 '{"error": "Not Found"}'; } with default_type application/json
                self.respond(404, "Not Found", [("Content-Type", "application/json")], b'{"error": "Not Found"}', keep_alive)
                return keep_alive
            if UPSTREAMS[location] == "tfs":  # rewrite ^/tfs/(.*) /$1; the client's header fields are not passed
                target = target[len("/tfs") :] if target.startswith("/tfs/") else target
                passed = [("Content-Type", "application/json"), ("Accept", "application/json")]
                address, host = ("127.0.0.1", tfs_port), "tfs_upstream"
            else:
                passed = [(name, value) for name, value in fields if name.lower() not in NOT_PASSED]
                address, host = gunicorn_socket, "gunicorn_upstream"
            lines = [f"{method} {target} HTTP/1.0", f"Host: {host}", "Connection: close"]
            lines += ([] if body is None else [f"Content-Length: {len(body)}"]) + [f"{name}: {value}" for name, value in passed]
            request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
            status, reason, answer_fields, answer = forward(address, request)
            if version < (1, 0):  # HTTP/0.9: the body alone
                self.connection.sendall(answer)
                return False
            self.respond(status, reason, answer_fields, answer, keep_alive, head_only=method == "HEAD")
            return keep_alive

    return Handler


def run_nginx() -> None:
    port, gunicorn_socket, tfs_port, client_timeout, version = sys.argv[2:7]
    server = "nginx/" + version if version else "nginx"

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads, allow_reuse_address, request_queue_size = True, True, 1024

    handler = nginx_handler(gunicorn_socket, int(tfs_port), float(client_timeout), server)
    with Server(("127.0.0.1", int(port)), handler) as listening:
        print(f"nginx stand-in listening on 127.0.0.1:{port}", flush=True)
        listening.serve_forever()


if __name__ == "__main__":
    run_nginx() if sys.argv[1] == "nginx" else run_python_service()
