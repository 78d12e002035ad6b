"""A stand-in for the TensorFlow Serving process: its REST API, answered by the artifact's SavedModel.

Run by `container.py` in an environment with TensorFlow of the serving image's version (or this one's):
`python tfserving_standin.py <model folder> <port> <model name>`. It loads `<model folder>/<version>/`
(the highest numbered version folder, as TF Serving does) and answers, on 127.0.0.1:
- `GET /v1/models/<name>`: the model's status, `AVAILABLE` once loaded;
- `POST /v1/models/<name>[/versions/<n>]:predict`: `{"instances": [...]}` (or `{"inputs": ...}`) in,
  `{"predictions": [...]}` out; a body it cannot run answers 400 `{"error": ...}`, as TF Serving does.
"""

import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import tensorflow as tf

READY = "tfserving-standin ready:"


def main() -> None:
    model_dir, port, name = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    version = max(int(path.name) for path in model_dir.iterdir() if path.is_dir() and path.name.isdigit())
    signature = tf.saved_model.load(str(model_dir / str(version))).signatures["serving_default"]
    input_name = next(iter(signature.structured_input_signature[1]))
    predict_path = re.compile(rf"^/v1/models/{re.escape(name)}(/versions/{version})?:predict$")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, status, content):
            body = json.dumps(content).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == f"/v1/models/{name}":
                self._answer(200, {"model_version_status": [{"version": str(version), "state": "AVAILABLE"}]})
            else:
                self._answer(404, {"error": f"Servable not found for request: {self.path}"})

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not predict_path.match(self.path):
                self._answer(404, {"error": f"Servable not found for request: {self.path}"})
                return
            try:
                payload = json.loads(body)
                instances = payload["instances"] if "instances" in payload else payload["inputs"]
                outputs = signature(**{input_name: tf.constant(np.asarray(instances, dtype=np.float32))})
                self._answer(200, {"predictions": next(iter(outputs.values())).numpy().tolist()})
            except Exception as error:  # TF Serving answers a request it cannot run with 400
                self._answer(400, {"error": str(error)})

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"{READY} TensorFlow {tf.__version__} serving {model_dir / str(version)} on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
