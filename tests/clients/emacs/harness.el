;;; harness.el --- shared parts of the Emacs end-to-end drivers  -*- lexical-binding: t; -*-

;; Environment, results as JSON in $GHOSTLS_TEST_RESULT, waiting with accept-process-output
;; (Emacs 28 runs no idle timers in --batch), and no prompts: nobody answers them here.

;;; Code:

(require 'cl-lib)
(require 'json)

(defvar ghostls-test-repo (getenv "GHOSTLS_REPO"))
(defvar ghostls-test-dir (file-name-as-directory (getenv "GHOSTLS_TEST_DIR")))
(defvar ghostls-test-result-file (getenv "GHOSTLS_TEST_RESULT"))
(defvar ghostls-test-scenario (getenv "GHOSTLS_TEST_SCENARIO"))
(defvar ghostls-test-result (make-hash-table :test 'equal))
(defvar ghostls-test-timings (make-hash-table :test 'equal))
(defvar ghostls-test-started (float-time))

(add-to-list 'load-path (expand-file-name "editors/emacs" ghostls-test-repo))
(setq make-backup-files nil
      auto-save-default nil
      create-lockfiles nil
      python-indent-guess-indent-offset nil)

(defun ghostls-test-server-command ()
  (list "sh" (expand-file-name "tests/clients/run_server.sh" ghostls-test-repo)))

(defun ghostls-test-settings ()
  "The test's server settings as a plist, as a user would write them."
  (let ((settings (getenv "GHOSTLS_TEST_SETTINGS_PLIST")))
    (and settings (not (string-empty-p settings)) (car (read-from-string settings)))))

;; Nobody answers prompts here: one that comes up is a failure, reported at once.
(defun ghostls-test-no-prompt (prompt &rest _)
  (error "unexpected prompt: %s" prompt))
(advice-add 'y-or-n-p :override #'ghostls-test-no-prompt)
(advice-add 'yes-or-no-p :override #'ghostls-test-no-prompt)
(advice-add 'read-from-minibuffer :override #'ghostls-test-no-prompt)

(defvar ghostls-test-prefix ""
  "Put before result keys: a step run on several files keeps one set of results each.")

(defun ghostls-test-put (key value)
  (puthash (concat ghostls-test-prefix key) value ghostls-test-result))

(defun ghostls-test-run-steps (steps)
  "Run STEPS from $GHOSTLS_TEST_STEPS (\"name\" or \"name=file\", comma-separated).
STEPS maps a name to a function of the file (or nil); a failing step is recorded."
  (dolist (spec (split-string (or (getenv "GHOSTLS_TEST_STEPS") "") "," t))
    (let* ((parts (split-string spec "="))
           (name (car parts))
           (file (cadr parts))
           (ghostls-test-prefix (if file (concat file "/") "")))
      (condition-case err
          (funcall (cdr (assoc name steps)) file)
        (error (ghostls-test-put (concat name "_error") (error-message-string err)))))))

(defun ghostls-test-save ()
  (ghostls-test-put "timings_ms" ghostls-test-timings)
  (ghostls-test-put "total_ms" (round (* 1000 (- (float-time) ghostls-test-started))))
  (with-temp-file ghostls-test-result-file
    (insert (let ((json-encoding-pretty-print nil)) (json-encode ghostls-test-result)))))

(defun ghostls-test-wait (name predicate timeout)
  "Process events until PREDICATE returns non-nil or TIMEOUT seconds pass."
  (let ((t0 (float-time))
        (value (funcall predicate)))
    (while (and (not value) (< (- (float-time) t0) timeout))
      (accept-process-output nil 0.05)
      (setq value (funcall predicate)))
    (puthash (concat ghostls-test-prefix name) (round (* 1000 (- (float-time) t0)))
             ghostls-test-timings)
    value))

(defun ghostls-test-buffer-text ()
  (buffer-substring-no-properties (point-min) (point-max)))

(defun ghostls-test-error-diagnostics ()
  (cl-remove-if-not (lambda (d) (memq (flymake-diagnostic-type d) '(eglot-error :error)))
                    (flymake-diagnostics)))

(defun ghostls-test-describe-diagnostic (d)
  `(("line" . ,(line-number-at-pos (flymake-diagnostic-beg d)))
    ("type" . ,(format "%s" (flymake-diagnostic-type d)))
    ("text" . ,(flymake-diagnostic-text d))))

(provide 'harness)
;;; harness.el ends here
