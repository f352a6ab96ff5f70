# `sam build` calls this target (template.yaml: Metadata.BuildMethod: makefile) with ARTIFACTS_DIR
# set; it lays out exactly what build.sh packages: bootstrap, runtime/ without the emulator,
# handlers/, the web page, and the pinned boto3.
build-TransferFunction:
	OUT=dist/function.zip ./build.sh
	python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' dist/function.zip "$(ARTIFACTS_DIR)"
	chmod 755 "$(ARTIFACTS_DIR)/bootstrap"

.PHONY: build-TransferFunction
