# make                       release build
# make install PREFIX=/usr/local DESTDIR=   binary, git-credential-mailcred link, man page, completions
# make test                  scripts/test (installs packages as root, starts a private keyring and mail servers)

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man1
BASHDIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHDIR = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHDIR = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
SWIFT_FLAGS ?= -c release --static-swift-stdlib --disable-local-rpath

.PHONY: all build install uninstall test bench clean

all: build

build:
	swift build $(SWIFT_FLAGS)

install: build
	bin="$$(swift build $(SWIFT_FLAGS) --show-bin-path)/mailcred"; \
	install -d "$(BINDIR)" "$(MANDIR)" "$(BASHDIR)" "$(ZSHDIR)" "$(FISHDIR)" && \
	install -m 755 "$$bin" "$(BINDIR)/mailcred" && \
	ln -sf mailcred "$(BINDIR)/git-credential-mailcred" && \
	install -m 644 man/mailcred.1 "$(MANDIR)/mailcred.1" && \
	"$$bin" --generate-completion-script bash > "$(BASHDIR)/mailcred" && \
	"$$bin" --generate-completion-script zsh > "$(ZSHDIR)/_mailcred" && \
	"$$bin" --generate-completion-script fish > "$(FISHDIR)/mailcred.fish"

uninstall:
	rm -f "$(BINDIR)/mailcred" "$(BINDIR)/git-credential-mailcred" "$(MANDIR)/mailcred.1" \
	  "$(BASHDIR)/mailcred" "$(ZSHDIR)/_mailcred" "$(FISHDIR)/mailcred.fish"

test:
	scripts/test

bench:
	scripts/bench

clean:
	rm -rf .build
