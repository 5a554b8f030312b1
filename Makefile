# Release builds: `make dist` writes every artifact into dist/ (see installer/dist).
# SIGN_CERT/SIGN_KEY sign vigil.exe with Authenticode (osslsigncode); VERSION overrides git describe.
.PHONY: dist clean-dist

dist:
	go run ./installer/dist -out dist $(if $(VERSION),-version $(VERSION)) \
		$(if $(SIGN_CERT),-sign-cert $(SIGN_CERT)) $(if $(SIGN_KEY),-sign-key $(SIGN_KEY))

clean-dist:
	rm -rf dist
