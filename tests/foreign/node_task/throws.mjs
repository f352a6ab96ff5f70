// A streamifyResponse handler that throws before writing anything: AWS's Node.js runtime then
// ends the response with error trailers and no byte of body, and the client must get a 502.
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  throw new Error("thrown before the first write");
});
