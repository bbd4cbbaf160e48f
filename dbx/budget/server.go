package budget

import "fmt"

// Server describes the connection slots of one Postgres server. Fields are
// taken literally: zero means zero. [PostgresDefaults] returns the values of
// a stock server.
type Server struct {
	// MaxConnections is the server's max_connections (Postgres default 100).
	MaxConnections int
	// SuperuserReserved is superuser_reserved_connections (Postgres default 3).
	SuperuserReserved int
	// Reserved is reserved_connections (PG16+, default 0): slots kept for
	// roles with pg_use_reserved_connections.
	Reserved int
	// Headroom is kept free on purpose: for operators, migrations, replicas'
	// base backups and pgxpool connections that are closed asynchronously
	// (they can linger up to 15 s after the pool let them go).
	Headroom int
}

// PostgresDefaults returns a stock server: max_connections 100,
// superuser_reserved_connections 3, reserved_connections 0, no headroom.
func PostgresDefaults() Server {
	return Server{MaxConnections: 100, SuperuserReserved: 3}
}

// Usable is the number of connections that ordinary application roles can
// open: max_connections minus both reserved pools minus headroom. It may be
// zero or negative for a misconfigured server; [Server.Validate] reports that.
// It saturates instead of wrapping (see [Sub]).
func (s Server) Usable() int {
	return Sub(Sub(Sub(s.MaxConnections, s.SuperuserReserved), s.Reserved), s.Headroom)
}

// Explain spells out [Server.Usable], e.g.
// "usable 87 = max_connections 100 - superuser_reserved 3 - reserved 0 - headroom 10".
func (s Server) Explain() string {
	return fmt.Sprintf("usable %d = max_connections %d - superuser_reserved %d - reserved %d - headroom %d",
		s.Usable(), s.MaxConnections, s.SuperuserReserved, s.Reserved, s.Headroom)
}

// CheckCounts reports a field that is negative or above [MaxCount]: such a
// server is not misconfigured but misread, and no verdict about it holds.
func (s Server) CheckCounts() error {
	if e := checkCounts(count{"max_connections", s.MaxConnections}, count{"superuser_reserved", s.SuperuserReserved},
		count{"reserved", s.Reserved}, count{"headroom", s.Headroom}); e != nil {
		return &Error{Reason: e.Reason + ": " + s.Explain(), Fix: e.Fix}
	}
	return nil
}

// Validate reports a server that leaves no connection for applications, or
// fields outside 0..[MaxCount] ([Server.CheckCounts]).
func (s Server) Validate() error {
	if err := s.CheckCounts(); err != nil {
		return err
	}
	if s.Usable() < 1 {
		return &Error{
			Reason: "no connection left for applications: " + s.Explain(),
			Fix:    fmt.Sprintf("raise max_connections to at least %d or lower the headroom", Add(Sub(s.MaxConnections, s.Usable()), 1)),
		}
	}
	return nil
}
