package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"contactd/auth"
	"contactd/config"
)

// Pages serves the pages of logged-in users: login, review (quality
// officers), monitor (supervisors), mirror (employees), access log (admins).
// The pages hold no data: their scripts fetch it from /api/v1, which checks
// roles again.
type Pages struct {
	Session   func(*http.Request) *auth.Session
	Employees func() []string
	Causes    func() []config.Cause
}

// pageRoles says who may open each page.
var pageRoles = map[string][]string{
	"review":  {auth.Quality, auth.Supervisor, auth.Admin},
	"monitor": {auth.Supervisor, auth.Admin},
	"mirror":  {auth.Employee, auth.Admin},
	"audit":   {auth.Admin},
}

// home is each role's first page.
var home = map[string]string{auth.Quality: "/review", auth.Supervisor: "/monitor", auth.Employee: "/mirror", auth.Admin: "/review"}

// pageCSP lets the pages load only this origin's scripts, styles, media.
const pageCSP = "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'"

type navItem struct{ Href, Label string }

type pageData struct {
	Page, Lang, Title string
	T                 map[string]string
	I18N              string
	User              *auth.User
	CSRF              string
	Nav               []navItem
	Extra             map[string]any
}

// Routes registers the pages.
func (p Pages) Routes(mux *http.ServeMux) {
	// Any method: a POST to / (or to a path that cleans to it) is not found, not 405.
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.NotFound(w, r)
			return
		}
		s := p.Session(r)
		if s == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, home[s.User.Role], http.StatusSeeOther)
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		lang := r.URL.Query().Get("lang")
		if lang != "en" {
			lang = "ru"
		}
		p.render(w, r, http.StatusOK, "login", lang, nil, nil)
	})
	mux.HandleFunc("GET /review", func(w http.ResponseWriter, r *http.Request) { p.page(w, r, "review") })
	mux.HandleFunc("GET /monitor", func(w http.ResponseWriter, r *http.Request) { p.page(w, r, "monitor") })
	mux.HandleFunc("GET /mirror", func(w http.ResponseWriter, r *http.Request) { p.page(w, r, "mirror") })
	mux.HandleFunc("GET /audit", func(w http.ResponseWriter, r *http.Request) { p.page(w, r, "audit") })
}

func (p Pages) page(w http.ResponseWriter, r *http.Request, name string) {
	s := p.Session(r)
	if s == nil {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if !slices.Contains(pageRoles[name], s.User.Role) {
		p.render(w, r, http.StatusForbidden, "forbidden", s.User.Lang, s, nil)
		return
	}
	extra := map[string]any{}
	switch name {
	case "review":
		type cause struct{ ID, Name string }
		var cs []cause
		for _, c := range p.Causes() {
			n := c.RU
			if s.User.Lang == "en" {
				n = c.EN
			}
			cs = append(cs, cause{c.ID, n})
		}
		extra["Causes"] = cs
		b, _ := json.Marshal(cs)
		extra["CausesJSON"] = string(b)
		extra["CanPlay"] = s.User.Role == auth.Quality || s.User.Role == auth.Admin
	case "mirror":
		emp := s.User.Employee
		if q := r.URL.Query().Get("employee"); s.User.Role == auth.Employee && q != "" && q != emp {
			p.render(w, r, http.StatusForbidden, "forbidden", s.User.Lang, s, nil)
			return
		}
		if s.User.Role == auth.Admin {
			extra["Employees"] = p.Employees()
			if e := r.URL.Query().Get("employee"); e != "" {
				emp = e
			} else if es := p.Employees(); len(es) > 0 {
				emp = es[0]
			}
		}
		extra["Employee"] = emp
	}
	p.render(w, r, http.StatusOK, name, s.User.Lang, s, extra)
}

func (p Pages) render(w http.ResponseWriter, _ *http.Request, code int, name, lang string, s *auth.Session, extra map[string]any) {
	t := messages[lang]
	if t == nil {
		lang, t = "ru", messages["ru"]
	}
	b, _ := json.Marshal(t)
	d := pageData{Page: name, Lang: lang, T: t, I18N: string(b), Extra: extra, Title: t[name]}
	if s != nil {
		u := s.User
		d.User, d.CSRF = &u, s.CSRF
		for _, n := range []string{"review", "monitor", "mirror", "audit"} {
			if slices.Contains(pageRoles[n], u.Role) {
				d.Nav = append(d.Nav, navItem{"/" + n, t[n]})
			}
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.WriteHeader(code)
	if err := pages.ExecuteTemplate(w, name+".html", d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
