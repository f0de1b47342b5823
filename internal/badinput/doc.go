// Package badinput holds no code, only a test: it builds every certseal
// command once and feeds each of them garbage, empty, truncated, binary,
// huge and wrong-kind files, missing and unreadable paths and read-only
// output directories, plus truncated and tampered sealed artifacts. Every
// case must end with one clear "tool: error: ..." line and a non-zero
// exit, never a panic, never a changed or new file, and never a line of a
// private key in the output.
package badinput
