#!/bin/sh
# tern-local: resolution, Maildir, mbox, |program, &forward, loops, limits, exit codes.
# tern-local is run directly: message on fd 0, one result line on fd 1, exit 0/99/100/111.
. "$(dirname "$0")/lib.sh"
t_home
H=$TERN_HOME
MD=$(t_demo)
UDIR=$H/mail/example.test/demo
LOG=$H/log/local.log
export FWD_DIR=$H/fwd
mkdir -p "$FWD_DIR"

# The queue program for &forward and aliases: saves the message and the envelope.
cat >"$H/fakequeue" <<'EOF'
#!/bin/sh
cat >"$FWD_DIR/msg"
cat 0<&1 >"$FWD_DIR/env"
exit "${FWD_EXIT:-0}"
EOF
chmod 755 "$H/fakequeue"
export TERN_QUEUE=$H/fakequeue
unset TERN_MSGSIZE TERN_DTAG TERN_QID

# tl SENDER RECIPIENT <message: runs tern-local; RC = exit code, OUT = the result line,
# NL = number of lines it wrote on fd 1.
tl() { tle TERN_TEST_DUMMY=1 "$@"; }
# tle NAME=VALUE SENDER RECIPIENT <message: the same with one more environment variable.
tle() {
	env "$1" "$T_BIN/tern-local" "$2" "$3" >"$H/out" 2>>"$LOG"
	RC=$?
	OUT=$(cat "$H/out")
	NL=$(wc -l <"$H/out")
}
# expect DESC CODE STATUS: exit code, and one line starting with the enhanced status code.
expect() {
	is "$1: exit $2" "$RC" "$2"
	case $OUT in
	"$3 "*) if [ "$NL" -eq 1 ]; then ok "$1: $3 ($OUT)"; else fail "$1: $NL result lines"; fi ;;
	*) fail "$1: result line '$OUT', expected '$3 ...'" ;;
	esac
}
nnew() { ls "$1/new" | wc -l; }
ntmp() { ls "$1/tmp" | wc -l; }
newest() { ls -t "$1/new" | head -n 1; }
clear_md() { rm -f "$1"/new/* "$1"/cur/* "$1"/tmp/*; }
# body FILE N: the file without its first N lines.
body() { tail -n +$(($2 + 1)) "$1"; }
dotern() { printf "$@" >"$UDIR/.tern.new" && chmod 644 "$UDIR/.tern.new" && mv "$UDIR/.tern.new" "$UDIR/.tern"; }

# ---- delivery to a virtual user's Maildir ----
python3 -c 'import sys; sys.stdout.buffer.write(b"Subject: 8bit\nX-Test: yes\n\nbody \xe9\xff\x80 line\nnul:\0:here\n\nFrom the start\n.\nno final newline")' >"$H/m1"
sh -c 'echo $$ >"$1/pid"; exec "$2/tern-local" a@example.org demo@example.test <"$1/m1" >"$1/out" 2>>"$1/log/local.log"' sh "$H" "$T_BIN"
RC=$?; OUT=$(cat "$H/out"); NL=$(wc -l <"$H/out")
expect "delivery to demo" 0 2.0.0
is "one file in new/" "$(nnew "$MD")" 1
is "nothing left in tmp/" "$(ntmp "$MD")" 0
f=$(newest "$MD")
pid=$(cat "$H/pid")
host=$(hostname | sed -e 's,/,\\057,g' -e 's,:,\\072,g')
case $f in
*".M"*"P$pid.$host") ok "unique Maildir name time.MusecPpid.host ($f)" ;;
*) fail "Maildir name '$f' (pid $pid host $host)" ;;
esac
check "Maildir name starts with the time" sh -c 'expr "$1" : "[0-9]\{9,\}\.M[0-9]\{1,6\}P[0-9]*\." >/dev/null' sh "$f"
is "line 1 is Return-Path" "$(sed -n 1p "$MD/new/$f")" "Return-Path: <a@example.org>"
is "line 2 is Delivered-To" "$(sed -n 2p "$MD/new/$f")" "Delivered-To: demo@example.test"
check "message byte-identical after the two lines (8-bit, NUL, no final newline)" \
	sh -c 'tail -n +3 "$1" | cmp -s - "$2"' sh "$MD/new/$f" "$H/m1"
check "result line names the Maildir" grep -q 'delivered to maildir' "$H/out"
check "log line event=delivered" grep -q 'event=delivered kind=maildir' "$LOG"

# Recipient case: the local part is kept as given in Delivered-To, the domain lowercased.
clear_md "$MD"
printf 'Subject: case\n\nx\n' >"$H/in"
tl '' Demo@EXAMPLE.Test <"$H/in"
expect "mixed-case recipient" 0 2.0.0
f=$(newest "$MD")
is "null sender: Return-Path <>" "$(sed -n 1p "$MD/new/$f")" "Return-Path: <>"
is "Delivered-To keeps the local part as given" "$(sed -n 2p "$MD/new/$f")" "Delivered-To: Demo@example.test"

# TERN_MSGSIZE: only that many bytes are the message (a queue file continues after it).
clear_md "$MD"
printf 'Subject: sized\n\nexactly this\nTRAILING ENVELOPE' >"$H/m2"
tle TERN_MSGSIZE=28 a@b demo@example.test <"$H/m2"
expect "TERN_MSGSIZE" 0 2.0.0
f=$(newest "$MD")
head -c 28 "$H/m2" >"$H/m2.want"
check "only TERN_MSGSIZE bytes delivered" sh -c 'tail -n +3 "$1" | cmp -s - "$2"' sh "$MD/new/$f" "$H/m2.want"
tle TERN_MSGSIZE=1000 a@b demo@example.test <"$H/m2"
expect "TERN_MSGSIZE beyond the input" 111 4.3.0
is "short input delivers nothing" "$(nnew "$MD")" 1
tle TERN_MSGSIZE=12x a@b demo@example.test <"$H/m2"
expect "bad TERN_MSGSIZE" 111 4.3.5

# ---- unknown recipients ----
clear_md "$MD"
printf 'x\n' >"$H/in"
tl a@b nosuch@example.test <"$H/in"
expect "unknown user" 100 5.1.1
check "reason names the address" grep -q 'no such user: nosuch@example.test' "$H/out"
printf 'x\n' >"$H/in"
tl a@b demo@elsewhere.test <"$H/in"
expect "not a local domain" 100 5.1.2
printf 'x\n' >"$H/in"
tl a@b '@example.test' <"$H/in"
expect "empty local part" 100 5.1.3
"$T_BIN/tern-local" a@b </dev/null >"$H/out" 2>>"$LOG"
RC=$?; OUT=$(cat "$H/out"); NL=$(wc -l <"$H/out")
expect "usage" 111 4.3.5
printf 'x\n' >"$H/in"
tl "$(printf 'a\nb@c')" demo@example.test <"$H/in"
expect "control byte in sender" 100 5.1.7
is "refusals deliver nothing" "$(nnew "$MD")" 0

# ---- aliases, catch-all, role addresses: forwarded through $TERN_QUEUE ----
fwd_reset() { rm -f "$FWD_DIR/msg" "$FWD_DIR/env"; }
envelope() { tr '\0' '|' <"$FWD_DIR/env"; }
printf 'Subject: to root\n\nhello root\n' >"$H/m3"
fwd_reset
tl a@example.org root@localhost <"$H/m3"
expect "alias root@localhost" 0 2.0.0
is "alias: envelope to demo, sender kept" "$(envelope)" "Fa@example.org|Tdemo@example.test||"
is "alias: Delivered-To prepended" "$(sed -n 1p "$FWD_DIR/msg")" "Delivered-To: root@localhost"
check "alias: message follows unchanged" sh -c 'tail -n +2 "$1" | cmp -s - "$2"' sh "$FWD_DIR/msg" "$H/m3"
is "alias: nothing in demo's Maildir" "$(nnew "$MD")" 0

"$T_BIN/tern-users" add-domain catch.test >/dev/null 2>&1
"$T_BIN/tern-users" alias @catch.test demo@example.test >/dev/null 2>&1
fwd_reset
tl a@b Whoever@catch.test <"$H/m3"
expect "catch-all" 0 2.0.0
is "catch-all: envelope" "$(envelope)" "Fa@b|Tdemo@example.test||"
is "catch-all: Delivered-To" "$(sed -n 1p "$FWD_DIR/msg")" "Delivered-To: Whoever@catch.test"

# abuse@ and mailer-daemon@ of a local domain go where postmaster@me goes.
for r in abuse@example.test mailer-daemon@localhost postmaster@localhost; do
	fwd_reset
	tl a@b "$r" <"$H/m3"
	expect "$r via the postmaster alias" 0 2.0.0
	is "$r: forwarded to demo" "$(envelope)" "Fa@b|Tdemo@example.test||"
done
# Without a postmaster alias, the role addresses land in mail/postmaster/Maildir.
"$T_BIN/tern-users" unalias postmaster@localhost >/dev/null 2>&1
PM=$H/mail/postmaster/Maildir
for r in postmaster@localhost abuse@example.test MAILER-DAEMON@example.test; do
	tl a@b "$r" <"$H/m3"
	expect "$r without an alias" 0 2.0.0
done
is "three messages in mail/postmaster/Maildir" "$(nnew "$PM")" 3
printf 'x\n' >"$H/in"
tl a@b hostmaster@example.test <"$H/in"
expect "other names still unknown" 100 5.1.1

# ---- extensions ----
clear_md "$MD"
printf 'Subject: ext\n\nx\n' >"$H/in"
tl a@b demo+lists@example.test <"$H/in"
expect "demo+lists without .tern-lists" 0 2.0.0
is "demo+lists: default Maildir" "$(nnew "$MD")" 1
is "demo+lists: Delivered-To has the extension" "$(sed -n 2p "$MD/new/$(newest "$MD")")" "Delivered-To: demo+lists@example.test"
mkdir -p "$UDIR/Lists"
printf './Lists/\n' >"$UDIR/.tern-lists"; chmod 644 "$UDIR/.tern-lists"
printf 'Subject: ext2\n\nx\n' >"$H/in"
tl a@b demo+LISTS@example.test <"$H/in"
expect "demo+LISTS with .tern-lists" 0 2.0.0
is ".tern-lists used: one in Lists/" "$(nnew "$UDIR/Lists")" 1
is ".tern-lists used: not the default" "$(nnew "$MD")" 1
echo - >"$H/control/delimiter"
printf 'Subject: ext3\n\nx\n' >"$H/in"
tl a@b demo-lists@example.test <"$H/in"
expect "control/delimiter '-'" 0 2.0.0
is "delimiter '-': .tern-lists used" "$(nnew "$UDIR/Lists")" 2
printf 'x\n' >"$H/in"
tl a@b demo+lists@example.test <"$H/in"
expect "with delimiter '-', demo+lists is unknown" 100 5.1.1
rm "$H/control/delimiter"

# ---- .tern: mbox ----
clear_md "$MD"
dotern '# my mail\n./mbox\n'
printf 'Subject: one\n\nFrom here\n>From there\n>>From far\nFromage\n From x\n' >"$H/mb1"
printf 'Subject: two\n\nlast line without newline' >"$H/mb2"
tl alice@example.org demo@example.test <"$H/mb1"
expect "mbox delivery 1" 0 2.0.0
tl '' demo@example.test <"$H/mb2"
expect "mbox delivery 2" 0 2.0.0
MB=$UDIR/mbox
is "mbox: two From_ lines" "$(grep -c '^From ' "$MB")" 2
check "mbox: first From_ line names the sender and a date" \
	grep -Eq '^From alice@example.org (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 1-3][0-9] [0-9:]{8} [0-9]{4}$' "$MB"
check "mbox: null sender is MAILER-DAEMON" grep -q '^From MAILER-DAEMON ' "$MB"
printf 'FROM_\nReturn-Path: <alice@example.org>\nDelivered-To: demo@example.test\nSubject: one\n\n>From here\n>>From there\n>>>From far\nFromage\n From x\n\nFROM_\nReturn-Path: <>\nDelivered-To: demo@example.test\nSubject: two\n\nlast line without newline\n\n' >"$H/mb.want"
sed 's/^From [^ ]* .*/FROM_/' "$MB" >"$H/mb.got"
check "mbox: mboxrd quoting, headers, separators, final newline" cmp -s "$H/mb.got" "$H/mb.want"
is "mbox: no Maildir delivery" "$(nnew "$MD")" 0
is "mbox: lock file removed" "$(ls "$UDIR" | grep -c 'mbox.lock')" 0
perm=$(stat -c %a "$MB")
is "mbox created mode 600" "$perm" 600

# A failed mbox delivery (file size limit) leaves the mbox as it was.
python3 -c 'import sys; sys.stdout.write("Subject: big\n\n" + ("y" * 99 + "\n") * 30000)' >"$H/big3"
size0=$(stat -c %s "$MB")
sh -c 'ulimit -f 1000; exec "$1/tern-local" a@b demo@example.test <"$2/big3" >"$2/out" 2>>"$2/log/local.log"' sh "$T_BIN" "$H"
RC=$?; OUT=$(cat "$H/out"); NL=$(wc -l <"$H/out")
expect "mbox over the file size limit" 111 4.2.2
is "mbox cut back to its size before" "$(stat -c %s "$MB")" "$size0"
is "mbox: lock file removed after failure" "$(ls "$UDIR" | grep -c 'mbox.lock')" 0

# ---- .tern: several lines ----
rm -f "$MB"
dotern './Maildir/\n\n   ./mbox   \n# end\n'
printf 'Subject: both\n\nto both\n' >"$H/m4"
tl a@b demo@example.test <"$H/m4"
expect "Maildir and mbox" 0 2.0.0
is "several lines: Maildir got it" "$(nnew "$MD")" 1
is "several lines: mbox got it" "$(grep -c '^Subject: both$' "$MB")" 1
check "result line names both" grep -q 'maildir ./Maildir/, mbox ./mbox' "$H/out"

# ---- .tern: |program ----
cat >"$H/prog.sh" <<'EOF'
#!/bin/sh
o=$TERN_HOME/prog
{
	printf 'SENDER=%s\n' "$SENDER"
	printf 'RECIPIENT=%s\n' "$RECIPIENT"
	printf 'LOCAL=%s\n' "$LOCAL"
	printf 'EXT=%s\n' "$EXT"
	printf 'HOST=%s\n' "$HOST"
	printf 'DTLINE=%s' "$DTLINE"
	printf 'RPLINE=%s' "$RPLINE"
	printf 'HOME=%s\n' "$HOME"
	printf 'USER=%s\n' "$USER"
	printf 'PWD=%s\n' "$(pwd)"
	printf 'MSGSIZE=%s\n' "${TERN_MSGSIZE-unset}"
} >"$o.env"
cat >"$o.msg"
EOF
chmod 755 "$H/prog.sh"
clear_md "$MD"
dotern '|%s\n' "$H/prog.sh"
tl s@example.org demo+x-y@example.test <"$H/m1"
expect "|program" 0 2.0.0
printf 'SENDER=s@example.org\nRECIPIENT=demo+x-y@example.test\nLOCAL=demo+x-y\nEXT=x-y\nHOST=example.test\nDTLINE=Delivered-To: demo+x-y@example.test\nRPLINE=Return-Path: <s@example.org>\nHOME=%s\nUSER=demo\nPWD=%s\nMSGSIZE=unset\n' "$UDIR" "$UDIR" >"$H/prog.want"
check "|program environment SENDER RECIPIENT LOCAL EXT HOST DTLINE RPLINE HOME USER, cwd" \
	cmp -s "$H/prog.env" "$H/prog.want"
check "|program gets the message unchanged on stdin (8-bit, NUL)" cmp -s "$H/prog.msg" "$H/m1"
is "|program only: no Maildir delivery" "$(nnew "$MD")" 0

# The envelope never reaches a shell: metacharacters in the sender and the extension.
rm -f "$H"/pwn*
evil='x$(touch '"$H"'/pwn1)`touch '"$H"'/pwn2`;touch '"$H"'/pwn3|&"'"'"'@example.org'
evilext='$(touch pwn4);touch${ifs}pwn5;`touch pwn6`'	# lowercase: LOCAL and EXT are
dotern '|%s\n./Maildir/\n' "$H/prog.sh"
printf 'Subject: evil\n\nx\n' >"$H/in"
tl "$evil" "demo+$evilext@example.test" <"$H/in"
expect "metacharacters in the envelope" 0 2.0.0
is "no metacharacter was interpreted" "$(ls "$H" "$UDIR" | grep -c '^pwn')" 0
is "SENDER passed literally" "$(sed -n 's/^SENDER=//p' "$H/prog.env")" "$evil"
is "EXT passed literally" "$(sed -n 's/^EXT=//p' "$H/prog.env")" "$evilext"
is "Return-Path carries the sender literally" "$(sed -n 1p "$MD/new/$(newest "$MD")")" "Return-Path: <$evil>"

# Exit codes of a program.
clear_md "$MD"
dotern '|echo 4.2.1 mailbox busy; exit 111\n./Maildir/\n'
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "|program exit 111 with a status" 111 4.2.1
check "its text is the reason" grep -q '^4.2.1 mailbox busy$' "$H/out"
is "later lines not run after 111" "$(nnew "$MD")" 0
dotern '|exit 111\n'
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "|program exit 111 silent" 111 4.2.0
check "silent 111: reason names the exit code" grep -q 'program exited 111' "$H/out"
dotern '|echo no thanks; exit 100\n./Maildir/\n'
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "|program exit 100" 100 5.2.0
check "100: reason is its output" grep -q '^5.2.0 no thanks$' "$H/out"
dotern '|echo 4.7.1 wrong class; exit 100\n'
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "|program exit 100 with a 4.x.x text keeps the permanent class" 100 5.2.0
dotern '|echo 5.7.1 refused; exit 64\n'
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "|program exit 64 (EX_USAGE) is permanent" 100 5.7.1
dotern '|exit 1\n'
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "|program exit 1 is temporary" 111 4.2.0
dotern '|kill -9 $$\n'
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "|program killed by a signal is temporary" 111 4.2.0
dotern '|touch %s/ran1\n|exit 99\n|touch %s/ran2\n./Maildir/\n' "$H" "$H"
rm -f "$H/ran1" "$H/ran2"
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "|program exit 99" 99 2.0.0
check "lines before 99 ran" test -e "$H/ran1"
check "lines after 99 not run" test ! -e "$H/ran2"
is "no Maildir delivery after 99" "$(nnew "$MD")" 0
dotern '|cat >/dev/null; echo 1 > %s/timeout-ok; sleep 30\n' "$H"
echo 1 >"$H/control/timeoutprogram"
t0=$(date +%s)
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
t1=$(date +%s)
expect "|program over timeoutprogram" 111 4.2.0
check "timeout: reason says timed out" grep -q 'timed out' "$H/out"
check "timeout: killed within 5 s" test $((t1 - t0)) -lt 5
rm "$H/control/timeoutprogram"
# A program that does not read its input: exit 0 still counts as delivered.
dotern '|exit 0\n'
tl a@b demo@example.test <"$H/big3"
expect "|program that ignores a 3 MB input" 0 2.0.0

# ---- .tern: &forward ----
clear_md "$MD"
dotern '&other@remote.test\n& bob\n./Maildir/\n'
fwd_reset
tl s@example.org demo@example.test <"$H/m1"
expect "&forward + Maildir" 0 2.0.0
is "&forward: envelope, sender kept, bare name gets the domain" "$(envelope)" \
	"Fs@example.org|Tother@remote.test|Tbob@example.test||"
is "&forward: Delivered-To prepended" "$(sed -n 1p "$FWD_DIR/msg")" "Delivered-To: demo@example.test"
check "&forward: message follows byte-identical" sh -c 'tail -n +2 "$1" | cmp -s - "$2"' sh "$FWD_DIR/msg" "$H/m1"
is "&forward: Maildir line also delivered" "$(nnew "$MD")" 1
dotern '&other@remote.test\n'
tle FWD_EXIT=31 a@b demo@example.test <"$H/m3"
expect "queue program refuses (31)" 100 5.3.0
tle FWD_EXIT=71 a@b demo@example.test <"$H/m3"
expect "queue program fails temporarily (71)" 111 4.3.0
tle TERN_QUEUE=$H/does-not-exist a@b demo@example.test <"$H/m3"
expect "queue program missing" 111 4.3.0

# ---- loops and hops ----
clear_md "$MD"
dotern './Maildir/\n'
printf 'Received: x\nDelivered-To: someone@else.test\nDelivered-To:   DEMO@example.test  \nSubject: loop\n\nx\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "Delivered-To for this recipient" 100 5.4.6
fwd_reset
printf 'Delivered-To: root@localhost\n\nx\n' >"$H/in"
tl a@b root@localhost <"$H/in"
expect "forward loop through an alias" 100 5.4.6
check "forward loop: nothing forwarded" test ! -e "$FWD_DIR/env"
printf 'Subject: b\n\nDelivered-To: demo@example.test\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "Delivered-To in the body is no loop" 0 2.0.0
python3 -c 'import sys; sys.stdout.write("Received: hop\n" * 101 + "\nx\n")' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "101 Received fields" 100 5.4.6
python3 -c 'import sys; sys.stdout.write("Received: hop\n" * 99 + "Delivered-To: x@y\n\nx\n")' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "100 trace fields are allowed" 0 2.0.0
is "loops deliver nothing" "$(nnew "$MD")" 2

# ---- idempotent delivery with TERN_DTAG ----
clear_md "$MD"
printf 'Subject: tagged\n\nx\n' >"$H/m5"
tle TERN_DTAG=0123abcd.1 a@b demo@example.test <"$H/m5"
expect "tagged delivery" 0 2.0.0
f=$(newest "$MD")
case $f in
[0-9]*".0123abcd.1_0.$host") ok "tagged name time.tag_index.host ($f)" ;;
*) fail "tagged name '$f'" ;;
esac
tle TERN_DTAG=0123abcd.1 a@b demo@example.test <"$H/m5"
expect "same TERN_DTAG again" 0 2.0.0
is "same TERN_DTAG: still one file" "$(nnew "$MD")" 1
check "second run says already there" grep -q 'already there' "$H/out"
tle TERN_DTAG=0123abcd.2 a@b demo@example.test <"$H/m5"
is "another TERN_DTAG: a second file" "$(nnew "$MD")" 2
tle TERN_DTAG=../evil a@b demo@example.test <"$H/m5"
expect "unusable TERN_DTAG: delivered without it" 0 2.0.0
is "unusable TERN_DTAG: a unique name" "$(ls "$MD/new" | grep -c 'evil')" 0
# A retry after a temporary failure of a later line does not deliver twice.
clear_md "$MD"
dotern './Maildir/\n|exit 111\n'
tle TERN_DTAG=retry.7 a@b demo@example.test <"$H/m5"
expect "Maildir then |exit 111" 111 4.2.0
tle TERN_DTAG=retry.7 a@b demo@example.test <"$H/m5"
expect "retry" 111 4.2.0
is "retry with the same TERN_DTAG: one copy" "$(nnew "$MD")" 1

# ---- bad instruction files ----
clear_md "$MD"
dotern './Maildir/\nbogus line\n'
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "bad .tern line: temporary (the user can fix it)" 111 4.3.5
check "bad line: reason names the file and line" grep -q '^4.3.5 .tern line 2: unknown instruction' "$H/out"
is "bad line: the valid line before it did not run either" "$(nnew "$MD")" 0
dotern '# nothing\n\n'
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect ".tern without instructions" 111 4.3.5
dotern '|\n'
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect ".tern empty command" 111 4.3.5
dotern './Maildir/\n'
chmod 666 "$UDIR/.tern"
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "group/other-writable .tern refused" 111 4.7.0
is "nothing delivered from a writable .tern" "$(nnew "$MD")" 0
dotern './Maildir/\n'

# ---- durability: the order of the system calls ----
clear_md "$MD"
printf 'Subject: strace\n\nx\n' >"$H/in"
strace -qq -e trace=openat,link,linkat,rename,renameat,renameat2,fsync,fdatasync,unlink,unlinkat \
	-o "$H/strace" "$T_BIN/tern-local" a@b demo@example.test <"$H/in" >"$H/out" 2>>"$LOG"
is "under strace: exit 0" $? 0
# Reduce to: what was done to which Maildir part.
awk '
/^openat\(.*Maildir\/+tmp\/.*O_CREAT\|O_EXCL/ { print "create-tmp"; next }
/^openat\(.*Maildir\/+new".*O_DIRECTORY/ { print "open-new-dir"; next }
/^f(data)?sync\(/ { print "fsync"; next }
/^link(at)?\(.*Maildir\/+tmp\/.*Maildir\/+new\// { print "link-tmp-new"; next }
/^rename/ { print "rename"; next }
/^unlink(at)?\(.*Maildir\/+tmp\// { print "unlink-tmp"; next }
' "$H/strace" | tr '\n' ' ' >"$H/seq"
is "Maildir: tmp/ file, fsync, link into new/, unlink tmp/, fsync new/" "$(cat "$H/seq")" \
	"create-tmp fsync link-tmp-new unlink-tmp open-new-dir fsync "
dotern './mbox\n'
strace -qq -e trace=openat,fcntl,fsync,fdatasync,ftruncate,unlink,unlinkat \
	-o "$H/strace" "$T_BIN/tern-local" a@b demo@example.test <"$H/in" >"$H/out" 2>>"$LOG"
is "mbox under strace: exit 0" $? 0
awk '
/^openat\(.*mbox\.lock".*O_CREAT\|O_EXCL/ { print "dotlock"; next }
/^openat\(.*mbox".*O_APPEND/ { print "open-append"; next }
/^fcntl\(.*F_SETLK.*F_WRLCK/ { print "fcntl-lock"; next }
/^f(data)?sync\(/ { print "fsync"; next }
/^ftruncate/ { print "ftruncate"; next }
/^unlink(at)?\(.*mbox\.lock"/ { print "unlock"; next }
' "$H/strace" | tr '\n' ' ' >"$H/seq"
is "mbox: dot lock, O_APPEND, fcntl lock, fsync, unlock" "$(cat "$H/seq")" \
	"dotlock open-append fcntl-lock fsync unlock "

# Locks held by others are waited for; a stale dot lock is removed.
rm -f "$MB"
echo 1 >"$UDIR/mbox.lock"
( sleep 1; rm -f "$UDIR/mbox.lock" ) &
t0=$(date +%s)
tl a@b demo@example.test <"$H/in"
t1=$(date +%s)
wait
expect "mbox behind a dot lock" 0 2.0.0
check "waited for the dot lock (>= 1 s)" test $((t1 - t0)) -ge 1
touch -d '-700 seconds' "$UDIR/mbox.lock"
t0=$(date +%s)
tl a@b demo@example.test <"$H/in"
t1=$(date +%s)
expect "mbox behind a stale dot lock" 0 2.0.0
check "stale dot lock: no wait" test $((t1 - t0)) -lt 2
is "stale dot lock removed" "$(ls "$UDIR" | grep -c 'mbox.lock')" 0
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.lockf(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close(); time.sleep(2)' \
	"$MB" "$H/locked" &
lp=$!
t_wait 5 test -e "$H/locked"
t0=$(date +%s)
tl a@b demo@example.test <"$H/in"
t1=$(date +%s)
wait $lp
expect "mbox behind an fcntl lock" 0 2.0.0
check "waited for the fcntl lock (>= 1 s)" test $((t1 - t0)) -ge 1
is "three messages in the mbox" "$(grep -c '^From ' "$MB")" 3
dotern './Maildir/\n'

# ---- system accounts ----
# control/systemaccounts is 0 in a tern-run home: Unix names are not mailboxes.
printf 'x\n' >"$H/in"
tl a@b daemon@localhost <"$H/in"
expect "systemaccounts 0: daemon" 100 5.1.1
printf 'x\n' >"$H/in"
tl a@b "$(id -un)@example.test" <"$H/in"
expect "systemaccounts 0: $(id -un)" 100 5.1.1
printf 'x\n' >"$H/in"
tl a@b nobody@example.test <"$H/in"
expect "systemaccounts 0: nobody" 100 5.1.1
# Turned on, an account still needs an existing home of its own.
echo 1 >"$H/control/systemaccounts"
is "daemon's home /usr/sbin belongs to root" "$(stat -c %u /usr/sbin)" 0
printf 'x\n' >"$H/in"
tl a@b daemon@localhost <"$H/in"
expect "systemaccounts 1: daemon (home not its own)" 100 5.1.1
printf 'x\n' >"$H/in"
tl a@b no-such-account-here@localhost <"$H/in"
expect "systemaccounts 1: no such account" 100 5.1.1
echo 0 >"$H/control/systemaccounts"

# ---- limits ----
# A full mailbox (file size limit; works as root too): 111, nothing in new/ or tmp/.
clear_md "$MD"
sh -c 'ulimit -f 1000; exec "$1/tern-local" a@b demo@example.test <"$2/big3" >"$2/out" 2>>"$2/log/local.log"' sh "$T_BIN" "$H"
RC=$?; OUT=$(cat "$H/out"); NL=$(wc -l <"$H/out")
expect "Maildir over the file size limit" 111 4.2.2
is "file size limit: nothing in new/" "$(nnew "$MD")" 0
is "file size limit: nothing left in tmp/" "$(ntmp "$MD")" 0
# Same from a pipe: the copy of the message fails first, also 111.
cat "$H/big3" | sh -c 'ulimit -f 1000; exec "$1/tern-local" a@b demo@example.test >"$2/out" 2>>"$2/log/local.log"' sh "$T_BIN" "$H"
RC=$?; OUT=$(cat "$H/out"); NL=$(wc -l <"$H/out")
expect "piped message over the file size limit" 111 4.3.1
is "piped, file size limit: nothing in new/" "$(nnew "$MD")" 0
is "piped, file size limit: nothing left in tmp/" "$(ntmp "$MD")" 0
# A Maildir that cannot be created (a file in its place): 111.
mv "$MD" "$MD.away"
echo file >"$MD"
printf 'x\n' >"$H/in"
tl a@b demo@example.test <"$H/in"
expect "Maildir path is a file" 111 4.2.0
rm "$MD"
mv "$MD.away" "$MD"
if [ "$(id -u)" -ne 0 ]; then
	chmod 555 "$MD/new"
	printf 'x\n' >"$H/in"
	tl a@b demo@example.test <"$H/in"
	expect "read-only new/ (not root)" 111 4.2.0
	is "read-only new/: nothing left in tmp/" "$(ntmp "$MD")" 0
	chmod 700 "$MD/new"
fi

# Constant memory: a 30 MB message.
clear_md "$MD"
python3 -c 'import sys; sys.stdout.write("Subject: big\n\n" + ("line of text " * 6 + "\n") * 380000)' >"$H/big"
rss=$( { /usr/bin/time -f '%M' -o "$H/rss" "$T_BIN/tern-local" a@b demo@example.test <"$H/big" >"$H/out" 2>>"$LOG" && cat "$H/rss"; } || echo -1)
if nm "$T_BIN/tern-local" 2>/dev/null | grep -q __asan_init; then limit=65536; else limit=4096; fi
echo "# tern-local peak RSS for a 30 MB message: $rss KiB (limit $limit)"
if [ "$rss" -gt 0 ] && [ "$rss" -lt "$limit" ]; then ok "30 MB message in ${rss} KiB"; else fail "30 MB message: peak RSS $rss KiB"; fi
f=$(newest "$MD")
check "30 MB message byte-identical" sh -c 'tail -n +3 "$1" | cmp -s - "$2"' sh "$MD/new/$f" "$H/big"
rm -f "$H/big" "$MD/new/$f"

# tern-getpw: the one program that asks NSS, for tern-local and tern-smtpd.
want=$(getent passwd root | awk -F: '{print $3 " " $4 " " $6}')
is "tern-getpw root: uid gid home" "$("$T_BIN/tern-getpw" root | head -n 1)" "$want"
check "tern-getpw root: groups line lists the primary group" sh -c '"$1/tern-getpw" root | sed -n 2p | tr , "\n" | grep -qx "$2"' sh "$T_BIN" "$(id -g root)"
"$T_BIN/tern-getpw" no-such-account-here >/dev/null; is "tern-getpw of a missing account: 100" $? 100
"$T_BIN/tern-getpw" 2>/dev/null; is "tern-getpw without a name: 111" $? 111

# The fork server (tern-local -z), spoken to as tern-send does: a SOCK_SEQPACKET packet
# per delivery with the message and the result pipe attached, "R<id> <code>" back.
clear_md "$MD"
python3 - "$T_BIN/tern-local" "$MD" "$H" "$(dirname "$0")" 2>>"$LOG" <<'PY' || fail "fork server: the script ended early (exit $?, see $LOG)"
import os, socket, sys, time
binp, md, home, here = sys.argv[1:5]
sys.path.insert(0, here)
from zfclient import ForkServer, result
fs = ForkServer(binp, home, home + "/log/local.log")
def say(ok, what):
    print(("ok" if ok else "not ok") + " - fork server: " + what, flush=True)
def req(jid, rcpt, msg, qid="6b1670000000001", fds=True):
    return fs.req(jid, rcpt, msg, qid, fds=fds)
r = req(7, "demo@example.test", b"Subject: fs1\n\nhello\n")
say(fs.answer() == "R7 0", "a delivery answers R7 0")
say(result(r).startswith("2.0.0 delivered"), "its result line comes through the pipe")
new = os.listdir(md + "/new")
say(len(new) == 1 and open(md + "/new/" + new[0], "rb").read().endswith(b"hello\n"), "the message is in new/")
r = req(8, "nobody-here@example.test", b"Subject: fs2\n\nx\n", qid="6b1670000000002")
say(fs.answer() == "R8 100", "an unknown recipient answers R8 100")
say(result(r).startswith("5.1.1"), "with 5.1.1 on the pipe")
# The same delivery again (a retry after a lost answer): found by its name, not doubled.
r = req(9, "demo@example.test", b"Subject: fs1\n\nhello\n")
say(fs.answer() == "R9 0", "a retry of a delivered message answers 0")
result(r)
say(len(os.listdir(md + "/new")) == 1, "and delivers no second copy")
# Malformed requests are dropped; the server goes on.
fs.a.send(b"Lnot-a-packet")
m = os.open(fs.msg, os.O_RDONLY)
socket.send_fds(fs.a, [b"L10\0a@b\0demo@example.test\0"], [m, m])
os.close(m)
r = req(11, "demo@example.test", b"Subject: fs3\n\nthree\n", fds=False)
say(fs.answer() == "R10 111", "a request with too few fields is answered 111")
say(fs.answer() == "R11 111", "a request with one descriptor is answered 111")
r2 = req(12, "demo@example.test", b"Subject: fs4\n\nfour\n", qid="6b1670000000004")
say(fs.answer() == "R12 0", "after malformed packets the next delivery works (R12 0)")
result(r2)
os.close(r)
say(fs.p.poll() is None, "the server is still running")
say(fs.close() == 0, "EOF on its socket: it exits 0")
# Closed with an answer still unread (ECONNRESET for the server): the same clean end,
# after its running child.
fs = ForkServer(binp, home, home + "/log/local.log")
r = req(13, "demo@example.test", b"Subject: fs5\n\nfive\n", qid="6b1670000000005")
time.sleep(0.5)
code = fs.close()
say(code == 0, "closed with an answer unread: it exits 0 (got %s)" % code)
say(result(r).startswith("2.0.0"), "and its delivery finished")
PY
check "fork server: malformed requests logged" grep -q "fork server: malformed request" "$LOG"

# Kept children: after a delivery the child that made it (resolved, running as the
# recipient's user) takes the next one to the same recipient, and only to it.
clear_md "$MD"
[ -f "$UDIR/.tern" ] && mv "$UDIR/.tern" "$H/tern.saved"
python3 - "$T_BIN/tern-local" "$MD" "$H" "$UDIR" "$(dirname "$0")" 2>>"$LOG" <<'PY' || fail "kept child: the script ended early (exit $?, see $LOG)"
import fcntl, os, signal, sys, time
binp, md, home, udir, here = sys.argv[1:6]
sys.path.insert(0, here)
from zfclient import ForkServer, result
fs = ForkServer(binp, home, home + "/log/local.log")
p = fs.p
def say(ok, what):
    print(("ok" if ok else "not ok") + " - kept child: " + what, flush=True)
def kids():
    out = []
    for d in os.listdir("/proc"):
        try:
            st = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        if int(st.rsplit(")", 1)[1].split()[1]) == p.pid:
            out.append(int(d))
    return sorted(out)
def settle(want, limit=6.0):
    end = time.time() + limit
    while time.time() < end and kids() != want:
        time.sleep(0.02)
    return kids()
def deliver(jid, rcpt, body):
    r = fs.req(jid, rcpt, b"Subject: kc\n\n" + body + b"\n", "6b16700000001%02d" % jid)
    return fs.answer(), result(r)
got = deliver(21, "demo@example.test", b"one")
k = kids()
say(got[0] == "R21 0" and got[1].startswith("2.0.0") and len(k) == 1, "first delivery answered, its child kept (%s, %s)" % (got[0], k))
got = deliver(22, "demo@example.test", b"two")
say(got[0] == "R22 0" and got[1].startswith("2.0.0"), "second delivery to demo answered R22 0 (%s)" % got[0])
say(kids() == k, "by the same child (%s, then %s)" % (k, kids()))
say(len(os.listdir(md + "/new")) == 2, "both messages in new/")
fds = sorted(os.listdir("/proc/%d/fd" % k[0])) if k else []
links = [os.readlink("/proc/%d/fd/%s" % (k[0], x)) for x in fds] if k else []
say(len(fds) == 4 and links[0] == links[1] == "/dev/null" and links[3].startswith("socket:"),
    "between jobs it holds fds 0 and 1 on /dev/null, 2 and its channel only (%s)" % links)
got = deliver(23, "nobody-here@example.test", b"three")
say(got[0] == "R23 100" and got[1].startswith("5.1.1"), "another recipient is resolved afresh: unknown, R23 100 (%s)" % got[0])
say(len(os.listdir(md + "/new")) == 2, "and nothing of it reached demo's Maildir")
say(settle(k) == k, "that child was not kept (an unresolved job); demo's still is (%s)" % kids())
# .tern is read per delivery: the kept child follows it; its mbox lock ends with the job.
with open(udir + "/.tern", "w") as f:
    f.write("./mbox-kc\n")
got = deliver(24, "demo@example.test", b"four")
say(got[0] == "R24 0" and kids() == k, "a changed .tern is followed by the kept child (%s)" % got[0])
fd = os.open(udir + "/mbox-kc", os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    say(b"four" in open(udir + "/mbox-kc", "rb").read(), "the mbox got it, and its lock is free after the answer")
except OSError as e:
    say(False, "the mbox lock is still held after the answer: %s" % e)
os.close(fd)
# A program delivery, twice by the same child: each gets its own SIGCHLD pipe and child.
with open(udir + "/.tern", "w") as f:
    f.write("|cat >>kc-prog.out\n")
got = [deliver(26, "demo@example.test", b"six")[0], deliver(27, "demo@example.test", b"seven")[0]]
prog = open(udir + "/kc-prog.out", "rb").read() if os.path.exists(udir + "/kc-prog.out") else b""
say(got == ["R26 0", "R27 0"] and b"six" in prog and b"seven" in prog and kids() == k,
    "two program deliveries by the kept child (%s, %d bytes)" % (got, len(prog)))
os.unlink(udir + "/.tern")
# A kept child killed while idle: the next delivery gets a new one.
if k:
    os.kill(k[0], signal.SIGKILL)
    settle([])
got = deliver(25, "demo@example.test", b"five")
k2 = kids()
say(got[0] == "R25 0" and len(k2) == 1 and k2 != k, "after its idle child was killed, a new one delivers (%s, %s)" % (got[0], k2))
# Many recipients in a row (a list's expansion): at most 32 idle children stay.
codes = [deliver(30 + i, "demo+kc%d@example.test" % i, b"ext")[0] for i in range(40)]
end = time.time() + 5
while time.time() < end and len(kids()) > 32:
    time.sleep(0.02)
say(codes == ["R%d 0" % (30 + i) for i in range(40)] and 2 <= len(kids()) <= 32,
    "40 deliveries to 40 recipients: all delivered, %d idle children kept (at most 32)" % len(kids()))
say(settle([]) == [], "an idle child ends after 2 s without work")
say(fs.close() == 0, "the server exits 0 at EOF")
PY
[ -f "$H/tern.saved" ] && mv "$H/tern.saved" "$UDIR/.tern"

check "no sanitizer report in tern-local's log" sh -c '! grep -q -e Sanitizer -e "runtime error" "$1"' sh "$LOG"

t_done
