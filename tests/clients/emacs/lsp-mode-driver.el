;;; lsp-mode-driver.el --- drive lsp-mode in `emacs --batch' against the real ghostls  -*- lexical-binding: t; -*-

;; The lsp-mode set-up of editors/emacs/ghostls-lsp-mode.el: connect, flymake diagnostics,
;; the quick fix through lsp-execute-code-action, completion-at-point, save and quit.
;; Results go to $GHOSTLS_TEST_RESULT; tests/clients/test_emacs.py asserts.

;;; Code:

;; An interactive Emacs activates installed packages (and their autoloads) at start-up;
;; --batch does not, so do it here as start-up would.
(package-initialize)
(load (expand-file-name "harness.el" (file-name-directory load-file-name)) nil t)

(setq lsp-enable-file-watchers nil
      lsp-diagnostics-provider :flymake  ; flycheck is not installed here
      lsp-keep-workspace-alive nil
      lsp-restart 'ignore
      lsp-enable-snippet nil
      lsp-headerline-breadcrumb-enable nil
      lsp-session-file (expand-file-name "lsp-session" ghostls-test-dir))
(require 'ghostls-lsp-mode)
(setq ghostls-lsp-command (ghostls-test-server-command)
      ghostls-lsp-settings (ghostls-test-settings))

(defun ghostls-test-lsp-connect (file)
  (find-file (expand-file-name file ghostls-test-dir))
  ;; The project root a user would confirm at lsp-mode's first prompt.
  (unless (member (directory-file-name ghostls-test-dir) (lsp-session-folders (lsp-session)))
    (lsp-workspace-folders-add (directory-file-name ghostls-test-dir)))
  (lsp)
  (let ((workspace (ghostls-test-wait
                    "attach"
                    (lambda ()
                      (let ((w (car (lsp-workspaces))))
                        (and w (eq (lsp--workspace-status w) 'initialized) w)))
                    30)))
    (unless workspace (error "lsp-mode did not connect"))
    (ghostls-test-put
     "attach"
     `(("server_id" . ,(symbol-name (lsp--client-server-id (lsp--workspace-client workspace))))
       ("completion_provider"
        . ,(if (gethash "completionProvider" (lsp--workspace-server-capabilities workspace))
               t :json-false))
       ("flymake_mode" . ,(if flymake-mode t :json-false))))
    workspace))

(defun ghostls-test-lsp-diagnostics-and-fix (file)
  (ghostls-test-lsp-connect file)
  (let ((errors (ghostls-test-wait "diagnostics"
                                   (lambda () (flymake-start) (ghostls-test-error-diagnostics))
                                   20)))
    (ghostls-test-put "diagnostics" (mapcar #'ghostls-test-describe-diagnostic errors))
    (when errors
      (goto-char (flymake-diagnostic-beg (car errors)))
      (let* ((actions (lsp-code-actions-at-point))
             (preferred (or (seq-find (lambda (a) (lsp:code-action-is-preferred? a)) actions)
                            (car actions)))
             (before (ghostls-test-buffer-text)))
        (ghostls-test-put "fix_offered" (vconcat (mapcar #'lsp:code-action-title actions)))
        (when preferred
          ;; What M-x lsp-execute-code-action does once the user picked the action.
          (lsp-execute-code-action preferred))
        (ghostls-test-wait "fix_applied"
                           (lambda () (not (equal before (ghostls-test-buffer-text))))
                           5)
        (ghostls-test-put "fix_text" (ghostls-test-buffer-text))
        (save-buffer)
        (let ((cleared (ghostls-test-wait "diagnostics_after_fix"
                                          (lambda ()
                                            (flymake-start)
                                            (null (ghostls-test-error-diagnostics)))
                                          10)))
          (ghostls-test-put "fix_cleared" (if cleared t :json-false)))))))

(defun ghostls-test-lsp-completion (_file)
  (ghostls-test-lsp-connect "complete.py")
  (ghostls-test-wait "model_ready"
                     (lambda ()
                       (and ghostls-lsp-status
                            (member (gethash "state" ghostls-lsp-status) '("ready" "error"))))
                     30)
  (goto-char (point-max))
  (let ((line-before (buffer-substring-no-properties (line-beginning-position) (point))))
    (ghostls-test-put "completion_line" line-before)
    (condition-case err
        (completion-at-point)
      (error (ghostls-test-put "completion_error" (error-message-string err))))
    (ghostls-test-put "completion_line_after"
                      (buffer-substring-no-properties (line-beginning-position)
                                                      (line-end-position)))))

(defun ghostls-test-lsp-save-and-quit ()
  (ghostls-test-lsp-connect "quick.py")
  (goto-char (point-max))
  (insert "y = x + 1\n")
  (ghostls-test-put "text_before_quit" (ghostls-test-buffer-text))
  (ghostls-test-save)
  (save-buffers-kill-emacs t))

(condition-case err
    (pcase ghostls-test-scenario
      ("features"
       (ghostls-test-run-steps `(("diagnostics" . ghostls-test-lsp-diagnostics-and-fix)
                                 ("completion" . ghostls-test-lsp-completion)))
       (ghostls-test-save)
       (kill-emacs 0))
      ("wq" (ghostls-test-lsp-save-and-quit))
      (_ (error "unknown scenario %s" ghostls-test-scenario)))
  (error
   (ghostls-test-put "error" (error-message-string err))
   (ghostls-test-save)
   (kill-emacs 3)))

;;; lsp-mode-driver.el ends here
