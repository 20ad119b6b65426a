"""A Model Hosting Service container that is not mhs: what Techcyte's Python template does,
in a few lines of `requests`, with no knowledge of the emulator.

It reads the platform's variables, gets a token (API key) or uses JWT_TOKEN, downloads
SCAN_URL, places one box in the slide's top-left corner (no slide library: the point is the
transport), and posts a Basic report to https://api.$HOST/api/v3 — the URL every container
written for the real platform builds. Against `mhs emulator --tls` it runs unchanged: the
emulator's HOST is a bare host name and REQUESTS_CA_BUNDLE names its CA.

    python3 client.py            (exit 0 when the platform answered 2xx)
"""
import json
import os
import sys

import requests

required = ["HOST", "TASK_ID", "SCAN_ID", "SCAN_URL"]
missing = [name for name in required if not os.environ.get(name)]
if missing:
    sys.exit("missing: " + ", ".join(missing))

api = f"https://api.{os.environ['HOST']}/api/v3"
task_id, scan_id = os.environ["TASK_ID"], os.environ["SCAN_ID"]

if os.environ.get("JWT_TOKEN"):
    token = os.environ["JWT_TOKEN"]
else:
    answer = requests.post(
        f"{api}/token",
        auth=(os.environ["API_KEY_ID"], os.environ["API_KEY_SECRET"]),
        data={"grant_type": "client_credentials"},
        timeout=60,
    )
    answer.raise_for_status()
    token = answer.json()["access_token"]

size = 0
with requests.get(os.environ["SCAN_URL"], stream=True, timeout=600) as download:
    download.raise_for_status()
    with open("/tmp/slide", "wb") as out:
        for chunk in download.iter_content(1 << 20):
            out.write(chunk)
            size += len(chunk)
print(f"Downloaded {size} bytes")

box = [[[10, 10], [110, 10], [110, 110], [10, 110], [10, 10]]]
body = {
    "scanResults": [
        {
            "scanId": scan_id,
            "workflow": {
                "model_name": "python client",
                "provider": "a lab",
                "ruo": True,
                "report": {
                    "type": "Basic",
                    "results": [{"name": "Result", "result": "1 box"}],
                    "segments": [
                        {
                            "name": "Box",
                            "result": "1",
                            "feature_collection": {
                                "type": "FeatureCollection",
                                "features": [
                                    {
                                        "type": "Feature",
                                        "geometry": {"type": "Polygon", "coordinates": box},
                                        "properties": {"annotation_type": "Box"},
                                    }
                                ],
                            },
                        }
                    ],
                },
            },
        }
    ]
}
posted = requests.post(
    f"{api}/external/results/{task_id}",
    headers={"Authorization": f"Bearer {token}"},
    json=body,
    timeout=120,
)
print(f"Results posted: HTTP {posted.status_code}")
if not posted.ok:
    print("Results JSON: " + json.dumps(body))
    sys.exit(1)
