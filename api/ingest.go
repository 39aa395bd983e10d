package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoppulse/shoppulse/events"
)

// Per-event statuses of an ingest answer.
const (
	StatusAccepted  = "accepted"
	StatusDuplicate = "duplicate"
	StatusRejected  = "rejected"
)

// EventResult is the outcome of one event of a batch.
type EventResult struct {
	Index  int                 `json:"index"`
	ID     string              `json:"id,omitempty"`
	Status string              `json:"status"`
	Topic  string              `json:"topic,omitempty"`
	Errors []events.FieldError `json:"errors,omitempty"`
}

// IngestResponse is the 200 answer of POST /v1/events.
type IngestResponse struct {
	Accepted   int           `json:"accepted"`
	Duplicates int           `json:"duplicates"`
	Rejected   int           `json:"rejected"`
	Results    []EventResult `json:"results"`
}

// errTooManyEvents stops reading a batch at its count limit.
var errTooManyEvents = errors.New("too many events")

// malformedError is a body that is not a JSON array of values.
type malformedError struct{ reason string }

func (e *malformedError) Error() string { return e.reason }

// handleIngest is POST /v1/events. The answer is 200 with one result per
// event when at least one event was accepted or was a duplicate, 422 (a
// problem with the same results) when every event was rejected, and 503
// when the events could not be written to Kafka in time, in which case none
// of them counts as received and the client retries the whole batch.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/x-ndjson") {
		writeProblem(w, r, Problem{Type: ProblemUnsupportedMediaType, Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType,
			Detail: fmt.Sprintf("Content-Type %q: send application/json (an array of events) or application/x-ndjson (one event per line)", r.Header.Get("Content-Type"))})
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	var raws []json.RawMessage
	if mt == "application/x-ndjson" {
		raws, err = readNDJSON(body, s.cfg.MaxBatchEvents)
	} else {
		raws, err = readJSONArray(body, s.cfg.MaxBatchEvents)
	}
	var mbe *http.MaxBytesError
	var me *malformedError
	switch {
	case errors.As(err, &mbe):
		writeProblem(w, r, Problem{Type: ProblemBodyTooLarge, Title: "Request body too large", Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("the body is larger than the limit of %d bytes: split the batch", mbe.Limit)})
		return
	case errors.Is(err, errTooManyEvents):
		writeProblem(w, r, Problem{Type: ProblemTooManyEvents, Title: "Too many events", Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("a batch holds at most %d events: split the batch", s.cfg.MaxBatchEvents)})
		return
	case errors.As(err, &me):
		writeProblem(w, r, Problem{Type: ProblemMalformed, Title: "Malformed body", Status: http.StatusBadRequest, Detail: me.reason})
		return
	case err != nil:
		writeProblem(w, r, Problem{Type: ProblemMalformed, Title: "Malformed body", Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("read body: %v", err)})
		return
	}
	if len(raws) == 0 {
		writeProblem(w, r, Problem{Type: ProblemMalformed, Title: "Empty batch", Status: http.StatusBadRequest,
			Detail: "the batch holds no events"})
		return
	}

	res, err := s.ingest(r.Context(), raws)
	if err != nil {
		s.log.WarnContext(r.Context(), "ingest batch not written", "events", len(raws), "err", err)
		writeProblem(w, r, unavailable("events could not be written now; none was received, retry the whole batch: "+err.Error(), s.cfg.RetryAfter))
		return
	}
	if res.Accepted+res.Duplicates == 0 {
		p := Problem{Type: ProblemInvalidEvents, Title: "No valid event", Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("all %d events were rejected", len(raws)), Results: res.Results}
		for _, er := range res.Results {
			for _, fe := range er.Errors {
				p.Errors = append(p.Errors, ProblemError{Index: &er.Index, Path: fe.Path, Reason: fe.Reason})
			}
		}
		writeProblem(w, r, p)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// ingest validates the events, claims their ids and writes the new ones to
// Kafka. An error means nothing of this batch counts as received (ids of
// events that did reach Kafka stay claimed, so a retry answers them
// duplicate). An id is claimed before its write completes: a concurrent
// request carrying the same id meanwhile is answered duplicate, and if the
// first write then fails, only the first request's client (told 503) will
// send it again.
func (s *Server) ingest(ctx context.Context, raws []json.RawMessage) (IngestResponse, error) {
	now := s.now()
	res := IngestResponse{Results: make([]EventResult, len(raws))}
	evs := make([]events.Event, len(raws))
	seen := make(map[string]bool, len(raws))
	var ids []string
	for i, raw := range raws {
		rr := EventResult{Index: i}
		ev, err := events.Decode(raw, now)
		var verr *events.ValidationError
		switch {
		case errors.As(err, &verr):
			rr.Status, rr.Errors = StatusRejected, verr.Fields
		case err != nil:
			rr.Status, rr.Errors = StatusRejected, []events.FieldError{{Path: "$", Reason: err.Error()}}
		default:
			rr.ID, rr.Topic = ev.Head().EventID, s.topicOf(ev)
			if seen[rr.ID] {
				rr.Status = StatusDuplicate // repeated within the batch
			} else {
				seen[rr.ID] = true
				evs[i] = ev
				ids = append(ids, rr.ID)
			}
		}
		res.Results[i] = rr
	}
	if len(ids) == 0 {
		return s.count(res), nil
	}

	// A produce slot bounds the work in flight; without one soon, shed load.
	wait := time.NewTimer(s.cfg.QueueWait)
	defer wait.Stop()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-wait.C:
		return res, fmt.Errorf("%d ingest requests already writing to Kafka", s.cfg.MaxInFlight)
	case <-ctx.Done():
		return res, fmt.Errorf("wait for a produce slot: %w", ctx.Err())
	}
	// The client may go away from here on: finish (or undo) the work anyway,
	// within the produce timeout.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ProduceTimeout)
	defer cancel()

	claimed, err := s.db.ClaimEventIDs(wctx, ids, now)
	if err != nil {
		return res, fmt.Errorf("record event ids: %w", err)
	}
	isNew := make(map[string]bool, len(claimed))
	for _, id := range claimed {
		isNew[id] = true
	}
	msgs := make([]kafka.Message, 0, len(claimed))
	sent := make([]string, 0, len(claimed))
	for i, ev := range evs {
		if ev == nil {
			continue
		}
		rr := &res.Results[i]
		if !isNew[rr.ID] {
			rr.Status = StatusDuplicate
			continue
		}
		rr.Status = StatusAccepted
		// The value is the event as the client sent it: events.Decode has
		// just accepted these exact bytes, so consumers will too, and
		// re-encoding would cost CPU on the hot path for nothing.
		msgs = append(msgs, kafka.Message{Topic: s.topicOf(ev), Key: ev.Key(), Value: raws[i],
			Headers: []kafka.Header{{Key: "type", Value: []byte(ev.Head().Type)}}})
		sent = append(sent, rr.ID)
	}
	if err := s.writer.WriteMessages(wctx, msgs...); err != nil {
		// Forget the ids of the events that did not reach Kafka so the
		// client's retry is accepted. After a timeout the writer may still
		// deliver some of them: a retry can then duplicate an event in Kafka,
		// which the hot path absorbs (facts are keyed by event id).
		failed := sent
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(sent) {
			failed = failed[:0:0]
			for i, e := range werrs {
				if e != nil {
					failed = append(failed, sent[i])
				}
			}
		}
		s.release(ctx, failed)
		return res, fmt.Errorf("write %d events to kafka: %w", len(msgs), err)
	}
	return s.count(res), nil
}

// release forgets claimed ids after a failed write.
func (s *Server) release(ctx context.Context, ids []string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.db.ReleaseEventIDs(rctx, ids); err != nil {
		s.log.ErrorContext(ctx, "release event ids after a failed write: a retry of these events will be answered duplicate",
			"ids", len(ids), "err", err)
	}
}

func (s *Server) count(res IngestResponse) IngestResponse {
	for _, r := range res.Results {
		switch r.Status {
		case StatusAccepted:
			res.Accepted++
		case StatusDuplicate:
			res.Duplicates++
		case StatusRejected:
			res.Rejected++
		}
	}
	return res
}

// readJSONArray reads a JSON array's elements without decoding them. It
// stops with errTooManyEvents at more than max elements, so an oversized
// batch is not read whole.
func readJSONArray(r io.Reader, max int) ([]json.RawMessage, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, &malformedError{"want a JSON array of events (or send application/x-ndjson)"}
	}
	var out []json.RawMessage
	for dec.More() {
		if len(out) == max {
			return nil, errTooManyEvents
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, malformed(dec, err)
		}
		out = append(out, raw)
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, malformed(dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, &malformedError{fmt.Sprintf("trailing data after the array at byte %d", dec.InputOffset())}
		}
		return nil, malformed(dec, err)
	}
	return out, nil
}

func malformed(dec *json.Decoder, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &malformedError{fmt.Sprintf("malformed JSON: unexpected end of the body at byte %d", dec.InputOffset())}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &malformedError{fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)}
	}
	return &malformedError{fmt.Sprintf("malformed JSON at byte %d: %v", dec.InputOffset(), err)}
}

// readNDJSON reads one event per non-blank line. A line that is not JSON is
// not an error here: it is rejected on its own, like any invalid event.
func readNDJSON(r io.Reader, max int) ([]json.RawMessage, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []json.RawMessage
	for {
		line, err := br.ReadBytes('\n')
		if t := bytes.TrimSpace(line); len(t) > 0 {
			if len(out) == max {
				return nil, errTooManyEvents
			}
			out = append(out, t)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
