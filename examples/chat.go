package examples

import (
	"slices"
	"sort"

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

// ChatRoomVars are a room's ephemeral vars: who is connected right now.
type ChatRoomVars struct {
	Online map[string]int
}

// ChatRoomInput is the creation input of a room.
type ChatRoomInput struct {
	Topic string `cbor:"topic"`
}

// ChatParams are the connection params a chat client sends.
type ChatParams struct {
	User  string `cbor:"user" json:"user"`
	Token string `cbor:"token" json:"token"`
}

// ChatConn is the state of one chat connection: who it is.
type ChatConn struct {
	User string
}

// MaxChatHistory bounds the messages a room keeps in its state.
const MaxChatHistory = 100

// ChatRoomContext is the context type of the chat room.
type ChatRoomContext = actor.Context[ChatRoomState, ChatRoomVars]

// ChatRoom is one chat room, keyed by [org, room]. Clients connect with
// params {user, token}; the room tells everyone about new messages
// ("newMessage") and who is online ("presence").
var ChatRoom = actor.New("chatRoom", actor.Config[ChatRoomState, ChatRoomVars]{
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
	CreateVars: func(c *ChatRoomContext) (ChatRoomVars, error) {
		return ChatRoomVars{Online: map[string]int{}}, nil
	},
	// OnBeforeConnect checks the token; a refusal reaches the client as
	// user/forbidden_conn. (A real app would verify a signed token.)
	OnBeforeConnect: func(c *ChatRoomContext, params actor.Params) error {
		var p ChatParams
		if err := params.Decode(&p); err != nil {
			return err
		}
		if p.Token == "bad" {
			return actor.NewUserError("forbidden_conn", "invalid token").WithMetadata(map[string]any{"user": p.User})
		}
		return nil
	},
	CreateConnState: func(c *ChatRoomContext, params actor.Params) (any, error) {
		var p ChatParams
		if err := params.Decode(&p); err != nil {
			return nil, err
		}
		return &ChatConn{User: p.User}, nil
	},
	OnConnect: func(c *ChatRoomContext, conn *actor.Conn) error {
		if u := actor.ConnState[*ChatConn](conn); u != nil && u.User != "" && !conn.Transient() {
			c.Vars().Online[u.User]++
			return c.Broadcast("presence", online(c))
		}
		return nil
	},
	OnDisconnect: func(c *ChatRoomContext, conn *actor.Conn) {
		if u := actor.ConnState[*ChatConn](conn); u != nil && u.User != "" && !conn.Transient() {
			if c.Vars().Online[u.User]--; c.Vars().Online[u.User] <= 0 {
				delete(c.Vars().Online, u.User)
			}
			_ = c.Broadcast("presence", online(c))
		}
	},
	Options: actor.Options{DisplayName: "Chat room", Icon: "comments"},
}).
	// sendMessage posts text as the caller: the sender comes from the
	// connection, never from an argument.
	Action("sendMessage", func(c *ChatRoomContext, text string) (ChatMessage, error) {
		if text == "" {
			return ChatMessage{}, actor.NewUserError("empty_message", "a message needs text")
		}
		sender := "anonymous"
		if u := actor.ConnState[*ChatConn](c.Conn()); u != nil && u.User != "" {
			sender = u.User
		}
		m := ChatMessage{Sender: sender, Text: text, AtMS: c.Now().UnixMilli()}
		st := c.State()
		st.Messages = append(st.Messages, m)
		if n := len(st.Messages); n > MaxChatHistory {
			st.Messages = slices.Clone(st.Messages[n-MaxChatHistory:])
		}
		if err := c.Broadcast("newMessage", m); err != nil {
			return ChatMessage{}, err
		}
		return m, nil
	}).
	Action("getHistory", func(c *ChatRoomContext) []ChatMessage {
		return c.State().Messages
	}).
	Action("getOnline", func(c *ChatRoomContext) []string {
		return online(c)
	}).
	Action("getRoomInfo", func(c *ChatRoomContext) map[string]string {
		return map[string]string{"org": c.State().Org, "room": c.State().Room, "topic": c.State().Topic}
	})

// online lists the connected users, sorted.
func online(c *ChatRoomContext) []string {
	users := make([]string, 0, len(c.Vars().Online))
	for u := range c.Vars().Online {
		users = append(users, u)
	}
	sort.Strings(users)
	return users
}

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
