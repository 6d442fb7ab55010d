package hub

import (
	"strings"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// setTopic sets or, with empty text, clears a room's topic: the owner
// and the room's operators may, and with the topic unlocked any member. Once it is durable, every member hears a topic event, and
// the owner gets the reply.
func (h *Hub) setTopic(s *Session, f *protocol.Frame) *protocol.Error {
	r, err := h.roomFor(f.Room)
	if err != nil {
		return err
	}
	if r.isLobby {
		return protocol.Errorf(protocol.CodeLobby, "the lobby has no topic")
	}
	u := s.user
	if !r.members.has(u.key) {
		return protocol.Errorf(protocol.CodeNotMember, "you are not in %s", r.name)
	}
	if r.topicLock && !h.canOp(s, r) {
		return protocol.Errorf(protocol.CodeNotOwner, "only %s, the owner of %s, and its operators can set its topic", h.userName(r.owner), r.name)
	}
	text := f.Text
	if strings.TrimSpace(text) == "" {
		text = ""
	} else if perr := checkTopic(text); perr != nil {
		return perr
	}
	now := h.cfg.Now()
	r.topic, r.topicBy, r.topicTime = text, u.name, now
	if text == "" {
		r.topicBy = ""
	}
	mem := r.members
	ev := event.New(event.Topic, &protocol.Frame{Type: protocol.TypeTopic, Room: r.name, Text: text, By: u.name, Time: now.UnixMilli()})
	h.queue(&record{
		changes: []store.Change{{Kind: store.SetTopic, Room: store.Room{Key: r.key, Topic: text, TopicBy: u.name, TopicTime: now}}},
		publish: func() {
			h.presenceFirst(u, nil)
			h.fanout(r, mem, ev)
			h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Room: r.name})
		},
		fail: h.failReply(s, f.ID),
	})
	return nil
}

// checkTopic applies the message rules to a topic, which is one line.
func checkTopic(text string) *protocol.Error {
	if len(text) > protocol.MaxTopicBytes {
		return protocol.Errorf(protocol.CodeTooLong, "topic has %d bytes; the limit is %d", len(text), protocol.MaxTopicBytes)
	}
	if strings.ContainsAny(text, "\n\r") {
		return protocol.Errorf(protocol.CodeBadText, "a topic is one line")
	}
	if perr := protocol.CheckText(text, protocol.MaxTopicBytes); perr != nil {
		return protocol.Errorf(perr.Code, "%s", strings.Replace(perr.Message, "message", "topic", 1))
	}
	return nil
}

// withTopic adds r's topic to a join reply.
func withTopic(f *protocol.Frame, r *room) *protocol.Frame {
	if r.topic != "" {
		f.Topic, f.TopicBy, f.TopicTime = r.topic, r.topicBy, r.topicTime.UnixMilli()
	}
	return f
}
