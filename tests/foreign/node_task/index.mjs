// A streaming handler written for AWS's Node.js runtime, with no code of ours in it.
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 202,
    headers: { "content-type": "text/plain", "x-runtime": "node" },
    cookies: ["n=1"],
  });
  for (let i = 0; i < 3; i++) {
    stream.write(`node-${i}\n`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  stream.end();
});
