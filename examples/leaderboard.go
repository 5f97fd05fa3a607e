package examples

import (
	"github.com/rivetgo/rivetgo/pkg/actor"
)

// LeaderboardState counts the submissions; the scores themselves live in
// the actor's SQLite database (c.DB), which holds far more than state
// should and answers "top n" with an index.
type LeaderboardState struct {
	Submissions int64 `cbor:"submissions"`
}

// LeaderboardEntry is one row of top(n).
type LeaderboardEntry struct {
	Player string `cbor:"player"`
	Score  int64  `cbor:"score"`
}

// LeaderboardContext is the context type of the leaderboard's actions.
type LeaderboardContext = actor.Context[LeaderboardState, struct{}]

// MaxLeaderboardTop is the most entries top(n) returns.
const MaxLeaderboardTop = 10000

// Leaderboard keeps every submitted score in SQL:
//
//	submitScore(player, score) stores a score and returns the number of
//	  submissions so far; a negative score is refused with
//	  user/invalid_score (after the insert: the failed action's insert and
//	  state change are both rolled back, as for any failed step);
//	top(n) returns [{player, score}], each player's best, highest first;
//	best(player) returns the player's best score, or null;
//	stats() returns {submissions, rows} (equal after any crash: the state
//	  and the database change in the same commit).
var Leaderboard = actor.New("leaderboard", actor.Config[LeaderboardState, struct{}]{
	Migrations: []string{
		`CREATE TABLE scores (
			id INTEGER PRIMARY KEY,
			player TEXT NOT NULL CHECK (length(player) BETWEEN 1 AND 128),
			score INTEGER NOT NULL,
			at_ms INTEGER NOT NULL
		)`,
		`CREATE INDEX scores_by_player ON scores (player, score DESC)`,
		`CREATE INDEX scores_by_score ON scores (score DESC)`,
	},
}).
	Action("submitScore", func(c *LeaderboardContext, player string, score int64) (int64, error) {
		c.State().Submissions++
		if _, err := c.DB().Exec("INSERT INTO scores (player, score, at_ms) VALUES (?, ?, ?)",
			player, score, c.Now().UnixMilli()); err != nil {
			return 0, err
		}
		if score < 0 {
			return 0, actor.NewUserError("invalid_score", "a score must not be negative")
		}
		return c.State().Submissions, nil
	}).
	Action("top", func(c *LeaderboardContext, n int) ([]LeaderboardEntry, error) {
		n = min(max(n, 0), MaxLeaderboardTop)
		rows, err := c.DB().Query(`SELECT player, max(score) AS best FROM scores
			GROUP BY player ORDER BY best DESC, player LIMIT ?`, n)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []LeaderboardEntry{}
		for rows.Next() {
			var e LeaderboardEntry
			if err := rows.Scan(&e.Player, &e.Score); err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, rows.Err()
	}).
	Action("best", func(c *LeaderboardContext, player string) (*int64, error) {
		var best *int64
		err := c.DB().QueryRow("SELECT max(score) FROM scores WHERE player = ?", player).Scan(&best)
		return best, err
	}).
	Action("stats", func(c *LeaderboardContext) (map[string]int64, error) {
		var rows int64
		if err := c.DB().QueryRow("SELECT count(*) FROM scores").Scan(&rows); err != nil {
			return nil, err
		}
		return map[string]int64{"submissions": c.State().Submissions, "rows": rows}, nil
	})
