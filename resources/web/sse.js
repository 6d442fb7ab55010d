// A decoder for the server-sent events stream (the event stream
// format of the HTML standard, "9.2.6 Interpreting an event stream"):
// the file server's /api/events, read with fetch so that the token goes
// in a header. Text comes in chunks that may end anywhere, even between
// the \r and \n of one line ending.

'use strict';

export class SSEDecoder {
  constructor() {
    this.buf = '';
    this.pendingCR = false;
    this.reset();
  }

  reset() {
    this.type = '';
    this.data = [];
    this.hasData = false;
  }

  // push takes the next chunk of text and returns the events it
  // completes: {type, data, id}, id being undefined when the event set
  // none. lastId is the last id seen, as a reconnect sends it back.
  push(chunk) {
    const out = [];
    let text = chunk;
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buf += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      // A lone \r at the very end may be the first half of \r\n.
      if (m[0] === '\r' && m.index === this.buf.length - 1) {
        this.pendingCR = true;
      }
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line, out);
    }
    return out;
  }

  line(line, out) {
    if (line === '') {
      if (this.hasData) {
        out.push({ type: this.type || 'message', data: this.data.join('\n'), id: this.id });
      }
      this.id = undefined;
      this.reset();
      return;
    }
    if (line.startsWith(':')) return; // a comment
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event': this.type = value; break;
      case 'data': this.data.push(value); this.hasData = true; break;
      case 'id': if (!value.includes('\u0000')) { this.id = value; this.lastId = value; } break;
      default: break; // retry and unknown fields: ignored
    }
  }
}
