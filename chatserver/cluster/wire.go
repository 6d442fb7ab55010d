package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/shared/protocol"
)

// What goes over NATS between nodes. Every message starts with the
// writer term it belongs to, so that a node drops what an earlier
// writer sent. Numbers are unsigned varints; strings and byte strings
// are a varint length and the bytes.
//
// Node → writer, on subject parley.hub (one subject, so that one node's
// requests reach the writer in the order they were sent):
//
//	term, op, node, session, body
//
// with op one of the op constants; body is a frame in NDJSON for login
// and handle, the client's address for login (after the frame), a name
// for online, and empty otherwise.
//
// Writer → node, on subject parley.node.NAME: term; the number of the
// writer's link to the node, which starts again when a batch could not
// be published and the link's sessions were closed; the batch's number
// on the link, counting from 0, so that a node sees a batch that went
// missing; then records:
//
//	'E' kind lines   defines the batch's next event: its kind and its
//	                 frames in NDJSON, encoded once for every recipient
//	'D' session n    queue event n (counted from 0) to a session
//	'C' session code message
//	                 close a session's connection, after what it was queued
//
// A batch's records are applied in order, and a node flushes each
// session that was queued to once at the end.

// The ops of requests to the writer.
const (
	opLogin  byte = 'L' // reply: replyOK, the link's number and the display name; or replyErr and an error frame
	opHandle byte = 'H' // no reply
	opFinish byte = 'F' // reply when every earlier request of the session is answered
	opLeave  byte = 'X' // no reply
	opOnline byte = 'O' // reply: replyOK with "1" or "0"
	opAlive  byte = 'A' // reply: replyOK
)

const (
	replyOK  byte = 'K'
	replyErr byte = 'E'
)

// The records of a batch to a node.
const (
	recEvent   byte = 'E'
	recDeliver byte = 'D'
	recClose   byte = 'C'
)

// request is a decoded request to the writer.
type request struct {
	term    uint64
	op      byte
	node    string
	session uint64
	body    []byte
	extra   []byte // login: the client's address
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeRequest(r request) []byte {
	b := make([]byte, 0, 32+len(r.node)+len(r.body)+len(r.extra))
	b = binary.AppendUvarint(b, r.term)
	b = append(b, r.op)
	b = appendString(b, r.node)
	b = binary.AppendUvarint(b, r.session)
	b = appendBytes(b, r.body)
	return appendBytes(b, r.extra)
}

var errShort = errors.New("cluster: message cut short")

// reader reads the encoding's parts, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func decodeRequest(b []byte) (request, error) {
	rd := reader{b: b}
	var r request
	r.term = rd.uvarint()
	r.op = rd.byte()
	r.node = string(rd.bytes())
	r.session = rd.uvarint()
	r.body = rd.bytes()
	r.extra = rd.bytes()
	if rd.err != nil {
		return request{}, rd.err
	}
	if len(rd.b) != 0 {
		return request{}, fmt.Errorf("cluster: %d bytes after a request", len(rd.b))
	}
	return r, nil
}

// batch is a batch to one node being built: its events are defined once
// and referred to by number.
type batch struct {
	b       []byte
	events  map[*event.Event]uint64
	records int
}

// header is what a batch begins with.
type header struct {
	term uint64 // the writer's term
	link uint64 // the writer's link to the node, numbered in the term from 1
	seq  uint64 // the batch's number on the link, from 0
}

func newBatch(h header) *batch {
	b := make([]byte, 0, 512)
	b = binary.AppendUvarint(b, h.term)
	b = binary.AppendUvarint(b, h.link)
	b = binary.AppendUvarint(b, h.seq)
	return &batch{b: b, events: map[*event.Event]uint64{}}
}

// readHeader reads a batch's header.
func readHeader(b []byte) (header, error) {
	rd := reader{b: b}
	h := header{term: rd.uvarint(), link: rd.uvarint(), seq: rd.uvarint()}
	return h, rd.err
}

func (bt *batch) deliver(session uint64, ev *event.Event) {
	n, ok := bt.events[ev]
	if !ok {
		n = uint64(len(bt.events))
		bt.events[ev] = n
		bt.b = append(bt.b, recEvent, byte(ev.Kind))
		bt.b = appendBytes(bt.b, ev.JSON())
	}
	bt.b = append(bt.b, recDeliver)
	bt.b = binary.AppendUvarint(bt.b, session)
	bt.b = binary.AppendUvarint(bt.b, n)
	bt.records++
}

func (bt *batch) close(session uint64, code, message string) {
	bt.b = append(bt.b, recClose)
	bt.b = binary.AppendUvarint(bt.b, session)
	bt.b = appendString(bt.b, code)
	bt.b = appendString(bt.b, message)
	bt.records++
}

// applier is what a decoded batch is applied to.
type applier interface {
	deliver(session uint64, ev *event.Event)
	close(session uint64, code, message string)
}

// decodeBatch applies a batch's records to a in order. A batch that is
// malformed is applied up to the fault and its error returned.
func decodeBatch(b []byte, a applier) error {
	rd := reader{b: b}
	rd.uvarint() // the header: term, link, number
	rd.uvarint()
	rd.uvarint()
	var events []*event.Event
	for rd.err == nil && len(rd.b) > 0 {
		switch rec := rd.byte(); rec {
		case recEvent:
			kind := event.Kind(rd.byte())
			lines := rd.bytes()
			if rd.err != nil {
				break
			}
			ev, err := decodeEvent(kind, lines)
			if err != nil {
				return err
			}
			events = append(events, ev)
		case recDeliver:
			s, n := rd.uvarint(), rd.uvarint()
			if rd.err != nil {
				break
			}
			if n >= uint64(len(events)) {
				return fmt.Errorf("cluster: delivery of event %d of %d", n, len(events))
			}
			a.deliver(s, events[n])
		case recClose:
			s := rd.uvarint()
			code, msg := rd.bytes(), rd.bytes()
			if rd.err != nil {
				break
			}
			a.close(s, string(code), string(msg))
		default:
			return fmt.Errorf("cluster: unknown record %q", rec)
		}
	}
	return rd.err
}

// decodeEvent rebuilds an event from its kind and NDJSON lines.
func decodeEvent(kind event.Kind, lines []byte) (*event.Event, error) {
	if kind == 0 || kind.String() == "unknown" {
		return nil, fmt.Errorf("cluster: unknown event kind %d", kind)
	}
	var frames []*protocol.Frame
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		if i < 0 {
			return nil, errors.New("cluster: an event's frame does not end its line")
		}
		f, err := protocol.Decode(lines[:i])
		if err != nil {
			return nil, fmt.Errorf("cluster: an event's frame: %w", err)
		}
		frames = append(frames, f)
		lines = lines[i+1:]
	}
	switch {
	case kind == event.Presence:
		if len(frames) == 0 {
			return nil, errors.New("cluster: a presence event without frames")
		}
		return &event.Event{Kind: kind, Batch: frames}, nil
	case len(frames) != 1:
		return nil, fmt.Errorf("cluster: a %s event of %d frames", kind, len(frames))
	}
	return event.New(kind, frames[0]), nil
}

// encodeError and decodeError carry a login's refusal.
func encodeError(err error) []byte {
	perr, ok := err.(*protocol.Error)
	if !ok {
		perr = protocol.Errorf(protocol.CodeInternal, "login failed")
	}
	return append([]byte{replyErr}, protocol.Encode(perr.Frame(0))...)
}

func decodeError(b []byte) *protocol.Error {
	f, err := protocol.Decode(bytes.TrimSuffix(b, []byte("\n")))
	if err != nil || f.Code == "" {
		return protocol.Errorf(protocol.CodeUnavailable, "the cluster's writer gave an answer that could not be read")
	}
	return &protocol.Error{Code: f.Code, Message: f.Message, RetryMS: f.RetryMS}
}
