// Package httperr is the file server's error reply: an HTTP status, a
// stable code that programs switch on, and a message for people, sent as
// a small JSON object. Internal details stay in the log.
package httperr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"syscall"

	"github.com/parley-chat/parley/fileserver/folder"
	"github.com/parley-chat/parley/shared/protocol"
)

// Codes. They are stable; clients switch on them.
const (
	CodeBadRequest = "bad_request"
	CodeBadPath    = "bad_path"
	// CodeBadName: a with= parameter (or tus "with" metadata) that is
	// not a name the chat server accepts.
	CodeBadName      = "bad_name"
	CodeUnauthorized = "unauthorized"
	// CodeSecretMismatch: the token's signature does not verify with
	// this server's secret; the chat server signed it with another.
	CodeSecretMismatch = "secret_mismatch"
	// CodeTokenExpired: a token this server's secret signed, past its
	// expiry.
	CodeTokenExpired = "token_expired"
	CodeForbidden    = "forbidden"
	CodeNotFound     = "not_found"
	CodeExists       = "exists"
	// CodeConfusable: a new name looks like another name in its folder.
	CodeConfusable = "confusable"
	// CodeNotEmpty: a delete named a folder with something in it.
	CodeNotEmpty = "not_empty"
	// CodeFolderLimit: the upload would take its uploader past the
	// number of folders one person may create.
	CodeFolderLimit = "folder_limit"
	// CodeTooDeep: the upload would create a folder deeper than new
	// folders may be.
	CodeTooDeep = "too_deep"
	// CodeTooManyUploads: the uploader has as many uploads in progress
	// as one person may.
	CodeTooManyUploads = "too_many_uploads"
	// CodeTooManyStreams: the user has as many event streams open as one
	// person may.
	CodeTooManyStreams = "too_many_streams"
	CodeIsDir          = "is_dir"
	CodeNotDir         = "not_dir"
	CodeOutside        = "outside"
	CodeTooLarge       = "too_large"
	CodeQuota          = "quota"
	CodeDiskFull       = "disk_full"
	CodeChecksum       = "checksum_mismatch"
	CodeIncomplete     = "incomplete"
	CodeBusy           = "busy"
	CodeMethod         = "method_not_allowed"
	CodeInternal       = "internal"
	CodeUnavailable    = "unavailable"
	CodeNotAcceptable  = "not_acceptable"
	CodeLengthRequired = "length_required"
)

// Error is a refusal to send to a client.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns an *Error.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// From classifies err for a client. Errors it does not know become a 500
// whose message says nothing about the cause; internal reports whether
// that happened, so the caller can log err.
func From(err error) (e *Error, internal bool) {
	var he *Error
	var pe *folder.PathError
	var ne *protocol.Error
	var ce *folder.ConfusableError
	var fe *folder.FolderLimitError
	switch {
	case errors.As(err, &fe) && fe.TooDeep():
		return New(http.StatusBadRequest, CodeTooDeep, "%s", fe.Error()), false
	case errors.As(err, &fe):
		return New(http.StatusForbidden, CodeFolderLimit, "%s", fe.Error()), false
	case errors.As(err, &ce):
		return New(http.StatusConflict, CodeConfusable, "%s", ce.Error()), false
	case errors.As(err, &he):
		return he, false
	case errors.As(err, &pe):
		return New(http.StatusBadRequest, CodeBadPath, "%s", pe.Reason), false
	case errors.As(err, &ne) && ne.Code == protocol.CodeBadName:
		return New(http.StatusBadRequest, CodeBadName, "%s", ne.Message), false
	case errors.Is(err, folder.ErrNotExist):
		return New(http.StatusNotFound, CodeNotFound, "%v", folder.ErrNotExist), false
	case errors.Is(err, folder.ErrExist):
		return New(http.StatusConflict, CodeExists, "a file of that name already exists; upload with overwrite to replace it, or choose another name"), false
	case errors.Is(err, folder.ErrIsDir):
		return New(http.StatusConflict, CodeIsDir, "%v", folder.ErrIsDir), false
	case errors.Is(err, folder.ErrNotDir):
		return New(http.StatusConflict, CodeNotDir, "%v", folder.ErrNotDir), false
	case errors.Is(err, folder.ErrNotRegular):
		return New(http.StatusForbidden, CodeForbidden, "%v", folder.ErrNotRegular), false
	case errors.Is(err, folder.ErrOutside):
		return New(http.StatusForbidden, CodeOutside, "%v", folder.ErrOutside), false
	case errors.Is(err, folder.ErrNotUploader):
		return New(http.StatusForbidden, CodeForbidden, "%v", folder.ErrNotUploader), false
	case errors.Is(err, folder.ErrLink):
		return New(http.StatusForbidden, CodeForbidden, "%v", folder.ErrLink), false
	case errors.Is(err, folder.ErrNotCreator):
		return New(http.StatusForbidden, CodeForbidden, "%v", folder.ErrNotCreator), false
	case errors.Is(err, folder.ErrNotEmpty):
		return New(http.StatusConflict, CodeNotEmpty, "%v", folder.ErrNotEmpty), false
	case errors.Is(err, folder.ErrNoUploader):
		return New(http.StatusForbidden, CodeForbidden, "%v", folder.ErrNoUploader), false
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return New(http.StatusInsufficientStorage, CodeDiskFull, "the server's disk is full"), false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return New(http.StatusServiceUnavailable, CodeUnavailable, "the request was cancelled"), false
	}
	return New(http.StatusInternalServerError, CodeInternal, "internal error; the server's log has the details"), true
}

// Write sends err as a JSON error reply, logging it if it is internal.
func Write(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e, internal := From(err)
	if internal && log != nil {
		log.Error("request failed", "method", r.Method, "path", r.URL.EscapedPath(), "err", err)
	}
	WriteError(w, e)
}

// WriteError sends e as a JSON error reply.
func WriteError(w http.ResponseWriter, e *Error) {
	b, _ := json.Marshal(e)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	h.Del("ETag")
	h.Del("Last-Modified")
	w.WriteHeader(e.Status)
	w.Write(append(b, '\n'))
}

// JSON returns e's reply body, for code that builds replies itself.
func (e *Error) JSON() string {
	b, _ := json.Marshal(e)
	return string(b) + "\n"
}
