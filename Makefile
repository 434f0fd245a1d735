# Everything runs inside .venv/ (created by `make install`); nothing touches the system Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT := out

.PHONY: install test test-slow lint demo bench bench-stylize bench-baseline bench-highres bench-bot bench-sr eval-sr eval-nst clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,redis]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

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
bench: bench-stylize bench-baseline bench-highres bench-bot bench-sr

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

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
