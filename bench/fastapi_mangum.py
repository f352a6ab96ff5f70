"""`bench.fastapi_app` on Mangum, for AWS's awslambdaric: `_HANDLER=bench.fastapi_mangum.handler`."""

from mangum import Mangum

from bench.fastapi_app import app

handler = Mangum(app)
