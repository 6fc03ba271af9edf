;;; driver.el --- drive eglot in `emacs --batch' against the real ghostls  -*- lexical-binding: t; -*-

;; Does what a user does (M-x eglot, flymake, code actions, completion-at-point, save and
;; quit) and writes what Emacs showed to $GHOSTLS_TEST_RESULT as JSON; the pytest side
;; (tests/clients/test_emacs.py) makes the assertions. Emacs 28 runs no idle timers in
;; --batch, so flymake and the waits are driven here with accept-process-output.

;;; Code:

(load (expand-file-name "harness.el" (file-name-directory load-file-name)) nil t)

(setq eglot-sync-connect t
      eglot-connect-timeout 30)
(require 'ghostls)
(setq ghostls-command (ghostls-test-server-command)
      ghostls-settings (ghostls-test-settings))
(when (equal (getenv "GHOSTLS_TEST_PLAIN_EGLOT") "1")
  ;; The set-up without ghostls.el's exit hook: Emacs' own way of ending the server.
  (setq ghostls-shutdown-on-exit nil))

(defun ghostls-test-connect (file)
  "Visit FILE and start eglot on it as M-x eglot does; return the server."
  (find-file (expand-file-name file ghostls-test-dir))
  ;; The first file starts the server; later ones in the project join it on their own.
  (unless (eglot-current-server)
    (call-interactively #'eglot))
  (let ((server (ghostls-test-wait
                 "attach"
                 (lambda ()
                   (let ((s (eglot-current-server)))
                     (and s eglot--managed-mode (eglot--capabilities s) s)))
                 30)))
    (unless server (error "eglot did not connect"))
    (ghostls-test-put
     "attach"
     `(("server_class" . ,(symbol-name (eieio-object-class-name server)))
       ("server_name" . ,(plist-get (eglot--server-info server) :name))
       ("inline_completion_provider" . ,(if (eglot--server-capable :inlineCompletionProvider)
                                            t :json-false))
       ("completion_provider" . ,(if (eglot--server-capable :completionProvider) t :json-false))
       ("code_action_provider" . ,(if (eglot--server-capable :codeActionProvider)
                                      t :json-false))
       ("flymake_mode" . ,(if flymake-mode t :json-false))))
    server))

(defun ghostls-test-diagnostics-and-fix (file)
  (ghostls-test-connect file)
  ;; No idle timers in batch mode: start flymake by hand, as its timer would.
  (let ((errors (ghostls-test-wait "diagnostics"
                                   (lambda () (flymake-start) (ghostls-test-error-diagnostics))
                                   20)))
    (ghostls-test-put "diagnostics" (mapcar #'ghostls-test-describe-diagnostic errors))
    (when errors
      ;; The user goes to the error and runs M-x eglot-code-actions on its line; when several
      ;; are offered they take the default (the preferred one) from the prompt.
      (goto-char (flymake-diagnostic-beg (car errors)))
      (let* ((offered nil)
             (before (ghostls-test-buffer-text))
             ;; As when the command runs from the keyboard (M-x), not from a mouse menu.
             (last-nonmenu-event ?\r))
        (cl-letf (((symbol-function 'completing-read)
                   (lambda (_prompt collection &rest args)
                     (setq offered (mapcar (lambda (c) (if (consp c) (car c) c)) collection))
                     (or (nth 4 args) (car offered)))))
          (condition-case err
              (eglot-code-actions (line-beginning-position) (line-end-position) nil t)
            (error (ghostls-test-put "fix_error" (error-message-string err)))))
        (ghostls-test-wait "fix_applied"
                           (lambda () (not (equal before (ghostls-test-buffer-text))))
                           5)
        (ghostls-test-put "fix_offered" (vconcat offered))
        (ghostls-test-put "fix_text" (ghostls-test-buffer-text))
        (save-buffer)
        (let ((left (ghostls-test-wait "diagnostics_after_fix"
                                       (lambda ()
                                         (flymake-start)
                                         (null (ghostls-test-error-diagnostics)))
                                       10)))
          (ghostls-test-put "fix_cleared" (if left t :json-false)))))))

(defun ghostls-test-completion (_file)
  (ghostls-test-connect "complete.py")
  (ghostls-test-wait "model_ready"
                     (lambda () (member (plist-get ghostls-status :state) '("ready" "error")))
                     30)
  (goto-char (point-max))
  (let* ((line-before (buffer-substring-no-properties (line-beginning-position) (point)))
         (capf (eglot-completion-at-point))
         (t0 (float-time))
         (candidates (and capf (all-completions "" (nth 2 capf)))))
    (puthash "completion_request" (round (* 1000 (- (float-time) t0))) ghostls-test-timings)
    (ghostls-test-put "completion_line" line-before)
    (ghostls-test-put "completion_candidates"
                      (vconcat (mapcar #'substring-no-properties candidates)))
    ;; The LSP items behind the candidates: what accepting one must insert.
    (ghostls-test-put
     "completion_new_texts"
     (vconcat (mapcar (lambda (c)
                        (let ((item (get-text-property 0 'eglot--lsp-item c)))
                          (or (plist-get (plist-get item :textEdit) :newText)
                              (plist-get item :insertText)
                              (plist-get item :label))))
                      candidates)))
    ;; M-x completion-at-point, as C-M-i runs it.
    (condition-case err
        (completion-at-point)
      (error (ghostls-test-put "completion_error" (error-message-string err))))
    (ghostls-test-put "completion_line_after"
                      (buffer-substring-no-properties (line-beginning-position)
                                                      (line-end-position)))))

(defun ghostls-test-save-and-quit ()
  "Type, save and quit at once while the server's debounced diagnostics are pending."
  (ghostls-test-connect "quick.py")
  (goto-char (point-max))
  (insert "y = x + 1\n")
  (ghostls-test-put "text_before_quit" (ghostls-test-buffer-text))
  (ghostls-test-save)
  ;; C-x C-c with "save all": saves the buffer (eglot sends didChange + didSave) and exits.
  (save-buffers-kill-emacs t))

(defun ghostls-test-run ()
  (pcase ghostls-test-scenario
    ("features"
     (ghostls-test-run-steps `(("diagnostics" . ghostls-test-diagnostics-and-fix)
                               ("completion" . ghostls-test-completion)))
     (ghostls-test-save)
     (kill-emacs 0))
    ("wq" (ghostls-test-save-and-quit))
    (_ (error "unknown scenario %s" ghostls-test-scenario))))

(condition-case err
    (ghostls-test-run)
  (error
   (ghostls-test-put "error" (error-message-string err))
   (ghostls-test-save)
   (kill-emacs 3)))

;;; driver.el ends here
