package examples

import (
	"slices"

	"github.com/rivetgo/rivetgo/pkg/actor"
)

// ChatMessage is one message in a room.
type ChatMessage struct {
	Sender string `cbor:"sender"`
	Text   string `cbor:"text"`
	AtMS   int64  `cbor:"at"`
}

// ChatRoomState keeps the last messages of a room.
type ChatRoomState struct {
	Org      string        `cbor:"org"`
	Room     string        `cbor:"room"`
	Topic    string        `cbor:"topic"`
	Messages []ChatMessage `cbor:"messages"`
}

// ChatRoomInput is the creation input of a room.
type ChatRoomInput struct {
	Topic string `cbor:"topic"`
}

// MaxChatHistory bounds the messages a room keeps in its state.
const MaxChatHistory = 100

// ChatRoomContext is the context type of the chat room.
type ChatRoomContext = actor.Context[ChatRoomState, struct{}]

// ChatRoom is one chat room, keyed by [org, room].
var ChatRoom = actor.New("chatRoom", actor.Config[ChatRoomState, struct{}]{
	CreateState: func(c *ChatRoomContext, input actor.Input) (ChatRoomState, error) {
		var in ChatRoomInput
		if err := input.Decode(&in); err != nil {
			return ChatRoomState{}, err
		}
		st := ChatRoomState{Topic: in.Topic, Messages: []ChatMessage{}}
		if k := c.Key(); len(k) == 2 {
			st.Org, st.Room = k[0], k[1]
		}
		return st, nil
	},
	Options: actor.Options{DisplayName: "Chat room", Icon: "comments"},
}).
	Action("sendMessage", func(c *ChatRoomContext, sender, text string) (ChatMessage, error) {
		if text == "" {
			return ChatMessage{}, actor.NewUserError("empty_message", "a message needs text")
		}
		m := ChatMessage{Sender: sender, Text: text, AtMS: c.Now().UnixMilli()}
		st := c.State()
		st.Messages = append(st.Messages, m)
		if n := len(st.Messages); n > MaxChatHistory {
			st.Messages = slices.Clone(st.Messages[n-MaxChatHistory:])
		}
		return m, nil
	}).
	Action("getHistory", func(c *ChatRoomContext) []ChatMessage {
		return c.State().Messages
	}).
	Action("getRoomInfo", func(c *ChatRoomContext) map[string]string {
		return map[string]string{"org": c.State().Org, "room": c.State().Room, "topic": c.State().Topic}
	})

// ChatRoomListState is the index of an organisation's rooms.
type ChatRoomListState struct {
	Rooms []string `cbor:"rooms"`
}

// ChatRoomListContext is the context type of the room list.
type ChatRoomListContext = actor.Context[ChatRoomListState, struct{}]

// ChatRoomList coordinates the rooms of one organisation (keyed by [org]):
// createRoom makes the room actor through the actor-to-actor client and
// records it; listRooms returns the names.
var ChatRoomList = actor.New("chatRoomList", actor.Config[ChatRoomListState, struct{}]{
	Options: actor.Options{DisplayName: "Chat room list", Icon: "list"},
}).
	Action("createRoom", func(c *ChatRoomListContext, room, topic string) (map[string]string, error) {
		if room == "" {
			return nil, actor.NewUserError("empty_room", "a room needs a name")
		}
		org := ""
		if k := c.Key(); len(k) > 0 {
			org = k[0]
		}
		h := c.Client().GetOrCreate("chatRoom", org, room).WithInput(ChatRoomInput{Topic: topic})
		info, err := actor.Call[map[string]string](c, h, "getRoomInfo")
		if err != nil {
			return nil, err
		}
		if !slices.Contains(c.State().Rooms, room) {
			c.State().Rooms = append(c.State().Rooms, room)
		}
		return info, nil
	}).
	Action("listRooms", func(c *ChatRoomListContext) []string {
		if c.State().Rooms == nil {
			return []string{}
		}
		return c.State().Rooms
	})
