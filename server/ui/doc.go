// Package ui is Vigil's web UI, the analyst's workbench, served by `vigil server` and embedded
// in the binary. Pages are rendered on the server with html/template; a small hand-written
// script (static/app.js) adds keyboard shortcuts, bulk selection and live rule lint, and every
// page works without it. Charts are SVG drawn on the server (package chart). There is no
// JavaScript build: the files under static/ are served as they are, with content hashes in
// their URLs so browsers cache them for good.
package ui
