#!/bin/sh
# tern-inject: added From/Date/Message-ID, recipients from arguments or the header,
# sender and name sources, limits, and one message through the real tern-queue.
. "$(dirname "$0")/lib.sh"
t_home
. "$(dirname "$0")/fakeq.sh"
TI=$T_BIN/tern-inject

# --- fields added, recipients from the arguments ---
reset
printf 'Subject: hello\n\nbody\n' | "$TI" a@b.example root
is "arguments: exit 0" $? 0
msg_is "From, Date, Message-ID added in front" "$FROM${DM}Subject: hello\n\nbody\n"
env_is "arguments: sender user@me, bare name gets @me" 'Fjoe@example.test\0Ta@b.example\0Troot@example.test\0\0'
mid=$(sed -n 's/^Message-ID: <\([0-9]*\)\.\([0-9]*\)\.[0-9a-f]*@example.test>$/\1/p' "$H/got.msg")
now=$(date +%s)
check "Message-ID starts with the time" test "${mid:-0}" -gt $((now - 60)) -a "${mid:-0}" -le "$now"
reset
printf 'From: me@x\nDate: Monday\nMessage-ID: <x@y>\nSubject: s\n\nb\n' | "$TI" a@b
msg_is "existing From, Date, Message-ID are kept" 'From: me@x\nDate: Monday\nMessage-ID: <x@y>\nSubject: s\n\nb\n'
reset
printf 'To: t@x\nBcc: hidden@y\n\nb\n' | "$TI" a@b
msg_is "Bcc is removed even with recipients from the arguments" "$FROM${DM}To: t@x\n\nb\n"
env_is "arguments only: header recipients not used" 'Fjoe@example.test\0Ta@b\0\0'

# --- recipients from the header: no arguments, or -t ---
reset
printf 'To: "Doe, John" <jd@x.example>, root (the admin)\nCc: group: c1@y, <c2@y>;\nBcc: b@z\nSubject: h\n\nb\n' | "$TI"
is "no arguments: exit 0" $? 0
msg_is "no arguments: Bcc removed" "$FROM${DM}To: \"Doe, John\" <jd@x.example>, root (the admin)\nCc: group: c1@y, <c2@y>;\nSubject: h\n\nb\n"
env_is "no arguments: To, Cc, Bcc in the envelope" 'Fjoe@example.test\0Tjd@x.example\0Troot@example.test\0Tc1@y\0Tc2@y\0Tb@z\0\0'
reset
printf 'To: a@x\n\nb\n' | "$TI" -t extra@y
env_is "-t with arguments: both" 'Fjoe@example.test\0Textra@y\0Ta@x\0\0'
reset
printf 'From: a@x\nDate: d\nMessage-ID: <i@x>\nTo: old@x\nResent-To: new@x\nResent-Bcc: sec@x\n\nb\n' | "$TI"
msg_is "Resent-: Resent- fields added, Resent-Bcc removed" "Resent-From: Joe User <joe@example.test>\nResent-Date: DATE\nResent-Message-ID: MSGID\nFrom: a@x\nDate: d\nMessage-ID: <i@x>\nTo: old@x\nResent-To: new@x\n\nb\n"
env_is "Resent-: recipients from Resent-To and Resent-Bcc only" 'Fjoe@example.test\0Tnew@x\0Tsec@x\0\0'
reset
printf 'Subject: none\n\nb\n' | "$TI" 2>"$H/err"
is "no recipients anywhere: 64" $? 64
is "no recipients: the message" "$(cat "$H/err")" "tern-inject: fatal: no recipients: none given, and no To:, Cc: or Bcc: in the header"
printf 'To: Jane Doe\n\nb\n' | "$TI" 2>"$H/err"
is "unparsable To: 65" $? 65
check "unparsable To: one line" test "$(wc -l <"$H/err")" -eq 1

# --- sender and names ---
reset
printf 'x\n' | "$TI" -f root a@b
env_is "-f bare name gets @me" 'Froot@example.test\0Ta@b\0\0'
reset
printf 'x\n' | "$TI" -f '' a@b
env_is "-f '': null sender" 'F\0Ta@b\0\0'
reset
printf 'x\n' | MAILUSER=mu MAILNAME='Mail Name' "$TI" a@b
msg_is "MAILUSER and MAILNAME come first" "From: Mail Name <mu@example.test>\n$DM\nx\n"
env_is "MAILUSER is the sender" 'Fmu@example.test\0Ta@b\0\0'
reset
printf 'x\n' | "$TI" -F 'Full, Name' a@b
msg_is "-F beats NAME and is quoted when needed" "From: \"Full, Name\" <joe@example.test>\n$DM\nx\n"
reset
printf 'x\n' | "$TI" -F '' a@b
msg_is "-F '': no display name" "From: joe@example.test\n$DM\nx\n"
reset
printf 'x\n' | env -u NAME -u USER LOGNAME=lg "$TI" a@b
gecos=$(python3 -c 'import os, pwd
p = pwd.getpwuid(os.getuid()); g = p.pw_gecos.split(",")[0]
print(g.replace("&", p.pw_name[:1].upper() + p.pw_name[1:]))')
if [ -n "$gecos" ]; then
	msg_is "LOGNAME, and the name from the gecos field" "From: $gecos <lg@example.test>\n$DM\nx\n"
else
	msg_is "LOGNAME, no gecos name" "From: lg@example.test\n$DM\nx\n"
fi

# --- bytes ---
reset
printf 'From joe Thu Jan  1 00:00:00 1970\r\nSubject: c\r\n\r\nl1\r\n.\r\n\304\0\r\n' | "$TI" a@b
msg_is "mbox From_ dropped, CRLF to LF, dots, 8-bit and NUL are data" "$FROM${DM}Subject: c\n\nl1\n.\n\304\0\n"

# --- limits and options ---
reset
python3 -c 'import sys; sys.stdout.write(("X-Pad: " + "p" * 90 + "\n") * 11000 + "\nb\n")' | "$TI" a@b 2>"$H/err"
is "header over 1 MiB: 65" $? 65
is "header over 1 MiB: the message" "$(cat "$H/err")" "tern-inject: fatal: header section over 1 MiB"
check "header over 1 MiB: the queue was not run" test ! -e "$H/got.msg"
printf 'x\n' | "$TI" -x a@b 2>"$H/err"
is "unknown option: 64" $? 64
check "unknown option: usage" grep -q '^tern-inject: fatal: usage: tern-inject ' "$H/err"
printf 'x\n' | "$TI" 'bad address@x' 2>"$H/err"
is "bad address argument: 64" $? 64
echo 31 >"$H/qexit"
printf 'x\n' | "$TI" a@b 2>"$H/err"
is "queue refuses: 69" $? 69
check "queue refuses: one line" grep -q '^tern-inject: fatal: message not queued: the message was refused (queue program exit 31)$' "$H/err"

# --- end to end through the real tern-queue ---
unset TERN_QUEUE
before=$(ls "$H/queue/mess" | wc -l)
printf 'To: demo@example.test\nSubject: real\n\nvia tern-inject\n' | "$TI"
is "real tern-queue: exit 0" $? 0
is "real tern-queue: one file in queue/mess" "$(ls "$H/queue/mess" | wc -l)" "$((before + 1))"
f=$(ls -t "$H/queue/mess" | head -n 1)
check "real tern-queue: added From and envelope stored" \
	sh -c "grep -q '^From: Joe User <joe@example.test>\$' '$H/queue/mess/$f' && grep -q 'Tdemo@example.test' '$H/queue/mess/$f'"
t_done
