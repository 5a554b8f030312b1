package ui

import "html/template"

// icons are the UI's line icons (24-unit grid, drawn with the current colour), drawn for Vigil.
var icons = map[string]string{
	"grid":     `<rect x="3.5" y="3.5" width="7" height="7" rx="1.5"/><rect x="13.5" y="3.5" width="7" height="7" rx="1.5"/><rect x="3.5" y="13.5" width="7" height="7" rx="1.5"/><rect x="13.5" y="13.5" width="7" height="7" rx="1.5"/>`,
	"inbox":    `<path d="M3.5 13.5 6 5.5h12l2.5 8v5a1.5 1.5 0 0 1-1.5 1.5H5a1.5 1.5 0 0 1-1.5-1.5v-5Z"/><path d="M3.5 13.5H8l1.5 2.5h5l1.5-2.5h4.5"/>`,
	"laptop":   `<rect x="5" y="5" width="14" height="10" rx="1.5"/><path d="M2.5 18.5h19"/>`,
	"network":  `<circle cx="12" cy="5.5" r="2.5"/><circle cx="5" cy="18.5" r="2.5"/><circle cx="19" cy="18.5" r="2.5"/><path d="M12 8v4M12 12l-5.5 4.5M12 12l5.5 4.5"/>`,
	"shield":   `<path d="M12 3 5 6v5.5c0 4.3 3 7.9 7 9 4-1.1 7-4.7 7-9V6l-7-3Z"/><path d="m9 12 2 2 4-4"/>`,
	"list":     `<path d="M8.5 6.5h12M8.5 12h12M8.5 17.5h12"/><circle cx="4.5" cy="6.5" r="1"/><circle cx="4.5" cy="12" r="1"/><circle cx="4.5" cy="17.5" r="1"/>`,
	"gear":     `<circle cx="12" cy="12" r="3"/><path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1"/>`,
	"check":    `<circle cx="12" cy="12" r="9"/><path d="m8 12.5 2.8 2.8L16.5 9.5"/>`,
	"clock":    `<circle cx="12" cy="12" r="8.5"/><path d="M12 7.5V12l3 2"/>`,
	"user":     `<circle cx="12" cy="8.5" r="3.5"/><path d="M5 19.5c.8-3.4 3.6-5.5 7-5.5s6.2 2.1 7 5.5"/>`,
	"plus":     `<path d="M12 5v14M5 12h14"/>`,
	"play":     `<path d="M8 5.5v13l10-6.5-10-6.5Z"/>`,
	"download": `<path d="M12 4v11M7.5 10.5 12 15l4.5-4.5M5 19.5h14"/>`,
}

// icon returns an inline SVG icon; an unknown name gives nothing.
func icon(name string) template.HTML {
	p, ok := icons[name]
	if !ok {
		return ""
	}
	return template.HTML(`<svg class="icon" viewBox="0 0 24 24" width="16" height="16" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">` + p + `</svg>`)
}
