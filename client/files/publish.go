package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// PublishOptions tune Publish.
type PublishOptions struct {
	// Overwrite replaces the user's own file of that name instead of
	// picking a free name.
	Overwrite bool
	// Try, if set, is called with each name Publish tries, before it
	// uploads under it; the function it returns is called after.
	Try func(name string) (done func())
	// Sink, if set, is told how the upload advances, under each name
	// tried.
	Sink Sink
}

// Publish uploads body under name, resumably, and returns the stored
// file. A local file (an *os.File) is sent as it is. Anything else, such
// as a sticker or a screenshot made by the client, goes through a
// temporary file so that it can resume. If the name is taken by another
// file, "name (1).ext", "name (2).ext", … are tried (see NameVariant);
// but a name that already holds the same bytes is the file published,
// and nothing is sent again, so running the same upload twice does not
// make a copy.
func (c *Client) Publish(ctx context.Context, name string, body io.ReadSeeker, opts PublishOptions) (*Entry, error) {
	if _, err := c.base(); err != nil {
		return nil, err
	}
	name = norm.NFC.String(name)
	report := c.reporter(opts.Sink)
	var f *os.File
	var sum string
	if file, ok := body.(*os.File); ok {
		fi, err := file.Stat()
		if err != nil {
			return nil, &Error{Code: CodeLocal, Message: err.Error()}
		}
		if !fi.Mode().IsRegular() {
			return nil, &Error{Code: CodeLocal, Message: file.Name() + " is not a regular file"}
		}
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return nil, &Error{Code: CodeLocal, Message: err.Error()}
		}
		if sum, err = c.hashFile(ctx, file, name, fi.Size(), report); err != nil {
			return nil, err
		}
		f = file
	} else {
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return nil, err
		}
		sum = hex.EncodeToString(h.Sum(nil))
		if e, err := c.Stat(ctx, name); err == nil && strings.EqualFold(e.SHA256, sum) {
			return e, nil
		}
		tmp, err := os.CreateTemp("", "parley-upload-*"+filepath.Ext(name))
		if err != nil {
			return nil, &Error{Code: CodeLocal, Message: err.Error()}
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err = body.Seek(0, io.SeekStart); err == nil {
			_, err = io.Copy(tmp, body)
		}
		if err == nil {
			err = tmp.Sync()
		}
		if err != nil {
			return nil, &Error{Code: CodeLocal, Message: err.Error()}
		}
		f = tmp
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, &Error{Code: CodeLocal, Message: err.Error()}
	}
	for n := 0; n < 100; n++ {
		try := NameVariant(name, n)
		done := func() {}
		if opts.Try != nil {
			done = opts.Try(try)
		}
		e, err := c.send(ctx, f, try, sum, fi.Size(), UploadOptions{Overwrite: opts.Overwrite, Sink: opts.Sink})
		done()
		var fe *Error
		if errors.As(err, &fe) && fe.Code == CodeExists && !opts.Overwrite {
			if there, serr := c.Stat(ctx, try); serr == nil && !there.Dir && strings.EqualFold(there.SHA256, sum) {
				return there, nil
			}
			continue
		}
		return e, err
	}
	return nil, fmt.Errorf("no free name for %s in %s", name, Place(c.with))
}
