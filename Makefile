# Everything runs inside .venv/ (created by `make install`); nothing touches the system Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT := out

.PHONY: install test test-slow lint demo image image-test base-image bench bench-default bench-profile bench-stylize bench-baseline bench-highres bench-bot bench-sr bench-strength strength-picture clip-picture eval-sr eval-nst clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,redis]'
	touch $(STAMP)

# Two processes (pytest-xdist): the suite waits on bots and subprocesses as much as it
# computes; each process keeps PyTorch to one thread (tests/conftest.py). TEST_WORKERS=0: one.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check nstcli tests bench
	$(BIN)/ruff format --check nstcli tests bench

demo: $(STAMP)
	$(BIN)/python -m nstcli.samples $(OUT)
	$(BIN)/nst stylize $(OUT)/content.png $(OUT)/style.png --size 384 -o $(OUT)/demo.png
	$(BIN)/nst stylize $(OUT)/content.png $(OUT)/style.png --backbone lite --size 384 -o $(OUT)/demo_lite.png

# Benchmarks take tens of minutes and read ../shared/images; results land in bench/results/.
bench: bench-default bench-stylize bench-baseline bench-highres bench-bot bench-sr

# Issue 22's speed figures: default runs at 512 px in yardsticks (a bare VGG19 forward+backward
# measured in the same run, bench/yardstick.py) and in our own full-size steps, bf16 and fp32.
bench-default: $(STAMP)
	nice -n 10 $(BIN)/python bench/stylize_default.py --out bench/results

# Where a default run's seconds go (start-up, per scale, torch.profiler): see docs/speed.md.
bench-profile: $(STAMP)
	nice -n 10 $(BIN)/python bench/profile_stylize.py --out bench/results/profile

bench-stylize: $(STAMP)
	$(BIN)/python bench/stylize_speed.py --sizes 256,512,1024 --out bench/results

bench-baseline: $(STAMP)
	$(BIN)/python bench/baseline_vs_nst.py --backbone vgg --out bench/results
	$(BIN)/python bench/baseline_vs_nst.py --backbone lite --out bench/results

bench-bot: $(STAMP)
	$(BIN)/python bench/bot_throughput.py --out bench/results

bench-highres: $(STAMP)
	$(BIN)/python bench/stylize_highres.py --sizes 2048,3000 --backbones lite,vgg --max-memory 4GiB --out bench/results

bench-sr: $(STAMP)
	$(BIN)/python bench/upscale_speed.py --out bench/results

# Our defaults beside jcjohnson/neural-style's published results (../shared/images/reference):
# structure, grain, colour, style and time per pair and backbone, contact sheets in
# bench/results/eval-nst/ (skips without ../shared).
eval-nst: $(STAMP)
	$(BIN)/python bench/eval_nst.py --backbones vgg,lite --out bench/results/eval-nst

# --strength 0..1 → eval-nst's figures averaged over the reference pairs, per backbone;
# resumable (per pair/strength cache), table in bench/results/strength/strength.md.
bench-strength: $(STAMP)
	nice -n 10 $(BIN)/python bench/strength.py --backbones lite,vgg --out bench/results/strength

# The README's strength picture: the sample photo in Starry Night at five strengths per
# backbone, both shipped → docs/images/strength.jpg. (bench/strength_picture.py without
# --shipped draws a reference pair from bench-strength's cache instead.)
strength-picture: $(STAMP)
	nice -n 10 $(BIN)/python bench/strength_picture.py --shipped --size 384 -o docs/images/strength.jpg

# The README's clip picture: the sample photo filmed panning, zooming and with a moving disc,
# in Starry Night, frame by frame vs temporal (lite, 12 frames, 360 px; both ship) →
# docs/images/clip_side_by_side.jpg, and the bench's figures in bench/results/video_shipped.
clip-picture: $(STAMP)
	nice -n 10 $(BIN)/python bench/video.py --shipped --motions pan,zoom,object --frames 12 \
		--size 360 --threads 1 --out bench/results/video_shipped --sheet docs/images/clip_side_by_side.jpg

# Y-PSNR/SSIM of the shipped x4 upscaler vs bicubic on ../shared/data/sr/val (Set5, Set14).
eval-sr: $(STAMP)
	@if [ -d ../shared/data/sr/val ]; then \
		$(BIN)/nst eval-upscaler --val ../shared/data/sr/val --json-out bench/results/eval-sr.json; \
	else echo "eval-sr: ../shared/data/sr/val not found, skipped"; fi

# The bot's message catalogues: extract the English msgids, merge them into each language's
# .po (translate the new/fuzzy entries there), then compile the .mo files that ship.
LOCALES := nstcli/bot/locales
.PHONY: i18n
i18n: $(STAMP)
	$(BIN)/pybabel extract --no-location --omit-header -o $(LOCALES)/nst.pot nstcli/bot
	$(BIN)/pybabel update -i $(LOCALES)/nst.pot -d $(LOCALES) -D nst --no-wrap
	$(BIN)/pybabel compile -d $(LOCALES) -D nst --statistics

# -- the container image: `make image` builds it, `make image-test` also runs it (minutes) -------
# The defaults fit this sandbox, which has no image registry: the base is Debian bookworm from
# debootstrap (`make base-image`), pip takes PyTorch's CPU wheel from the local wheel folder
# and PyPI's certificates from the host's bundle (both mounted read-only into the build), and
# podman needs chroot isolation, runc, low ulimits and the host network. The only torchvision
# here is a CUDA build whose compiled ops cannot load beside the CPU torch, so
# TORCHVISION_OPS_OPTIONAL=1 patches it at build time to import without them (the Dockerfile
# says how; nst uses none of them). Elsewhere, e.g.:
#   make image BASE_IMAGE=python:3.11-slim-bookworm TORCH_INDEX=https://download.pytorch.org/whl/cpu \
#        TORCH_PIP_ARGS= TORCH_PACKAGES="torch torchvision" TORCHVISION_OPS_OPTIONAL=0 \
#        PIP_MOUNTS= IMAGE_PIP_CERT= PODMAN_BUILD_FLAGS=
# or plainly `docker build -t nst .` (the Dockerfile's defaults are those).
IMAGE ?= localhost/nst:latest
PODMAN ?= podman
PODMAN_BUILD_FLAGS ?= --isolation=chroot
PODMAN_RUN_FLAGS ?= --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host
BASE_IMAGE ?= localhost/nst-base:bookworm
BASE_ROOTFS ?= /var/tmp/nst-base-rootfs
DEBIAN_MIRROR ?= http://deb.debian.org/debian
TORCH_INDEX ?= https://pypi.org/simple
TORCH_PIP_ARGS ?= --find-links /opt/wheels
TORCH_PACKAGES ?= torch==2.13.0+cpu torchvision==0.28.0
TORCHVISION_OPS_OPTIONAL ?= 1
PIP_MOUNTS ?= -v /opt/wheels:/opt/wheels:ro -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca.crt:ro
IMAGE_PIP_CERT ?= /etc/ssl/host-ca.crt
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)

# `--format docker`: the OCI format has no HEALTHCHECK, podman would drop it.
image: $(if $(filter localhost/nst-base:%,$(BASE_IMAGE)),base-image)
	$(PODMAN) build $(PODMAN_BUILD_FLAGS) --format docker $(PIP_MOUNTS) \
		--build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg TORCH_INDEX=$(TORCH_INDEX) \
		--build-arg TORCH_PIP_ARGS="$(TORCH_PIP_ARGS)" --build-arg TORCH_PACKAGES="$(TORCH_PACKAGES)" \
		--build-arg TORCHVISION_OPS_OPTIONAL=$(TORCHVISION_OPS_OPTIONAL) \
		--build-arg PIP_CERT=$(IMAGE_PIP_CERT) --build-arg VERSION=$(VERSION) -t $(IMAGE) .
	@$(PODMAN) image inspect --format "{{.Size}}" $(IMAGE) | \
		awk '{printf "image: $(IMAGE), %.2f GB\n", $$1 / 1e9}'

# A minimal Debian bookworm (apt, no Python) imported as the base image, once.
base-image:
	@$(PODMAN) image exists $(BASE_IMAGE) || { \
		rm -rf $(BASE_ROOTFS) && \
		debootstrap --variant=minbase bookworm $(BASE_ROOTFS) $(DEBIAN_MIRROR) && \
		rm -rf $(BASE_ROOTFS)/var/cache/apt/archives/*.deb $(BASE_ROOTFS)/var/lib/apt/lists/* && \
		tar -C $(BASE_ROOTFS) -c . | $(PODMAN) import - $(BASE_IMAGE) && \
		rm -rf $(BASE_ROOTFS); }

# In containers: `nst --version`, a lite stylize at 64 px offline, a bot and a worker over a
# Redis on the host serving one user through the test suite's fake Bot API, then the health
# check: healthy, and unhealthy once the worker is stopped (SIGSTOP). Not part of `make test`.
image-test: image $(STAMP)
	$(BIN)/python -m tests.image.run --image $(IMAGE) --podman $(PODMAN) \
		--run-flags="$(PODMAN_RUN_FLAGS)"

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
