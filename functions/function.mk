# `sam build` of a function (Metadata: BuildMethod: makefile): the functions have no
# third-party code (that is the shared layer's), so the build copies the service's folder.
# sam runs `make build-<LogicalId>` in a copy of the folder with ARTIFACTS_DIR set; every
# functions/<service>/Makefile includes this file.
build-%:
	cp -R . "$(ARTIFACTS_DIR)"
	rm -f "$(ARTIFACTS_DIR)/Makefile"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
