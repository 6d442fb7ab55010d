package cluster

// ForgeRequest encodes a request to the writer as a node would, so that
// tests can publish on the bus what a node that crashed, or a stranger,
// would.
func ForgeRequest(term uint64, op byte, node string, session uint64, body, extra []byte) []byte {
	return encodeRequest(request{term: term, op: op, node: node, session: session, body: body, extra: extra})
}

// The ops of requests, for ForgeRequest.
const (
	OpLogin  = opLogin
	OpHandle = opHandle
)

// BatchHeader encodes the start of a batch to a node.
func BatchHeader(term, link, seq uint64) []byte { return newBatch(header{term, link, seq}).b }
