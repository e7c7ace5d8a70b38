"""The page's stylesheet and script (passed to launch): source panels, citation markers, verified answers."""

CSS = """
#sources-panel, #ask-sources {max-height: 640px; overflow-y: auto;}
.sources-list details.source {border: 1px solid var(--border-color-primary); border-radius: 6px;
  padding: 4px 8px; margin-bottom: 6px;}
.sources-list details.source.flash {outline: 3px solid #f59e0b;}
.source-path {font-family: var(--font-mono); font-size: 0.8em; opacity: 0.75; margin: 2px 0 4px;}
.source-text {white-space: pre-line; font-size: 0.9em;}
.sources-empty {opacity: 0.6; font-style: italic;}
a.cite {text-decoration: none; font-weight: 600; cursor: pointer;}
.answer .sent.unsupported {background: rgba(239, 68, 68, 0.12); text-decoration: underline wavy #ef4444;}
.answer .why {color: #b91c1c;}
.answer-title {font-weight: 700; margin-bottom: 6px;}
.answer-meta {margin-top: 8px; font-size: 0.85em; opacity: 0.8;}
.answer .notice {margin-top: 4px; font-size: 0.85em; color: #92400e;}
.cursor {animation: blink 1s step-start infinite;} @keyframes blink {50% {opacity: 0;}}
.provisional {border: 1px dashed #9ca3af; border-radius: 6px; padding: 6px 10px; background: rgba(156, 163, 175, 0.08);}
.provisional-label {font-size: 0.8em; font-weight: 600; color: #92400e; text-transform: uppercase; letter-spacing: 0.03em;}
.provisional .draft {color: #6b7280; font-style: italic; white-space: pre-wrap;}
"""

# Clicking a [n] marker anywhere opens source n in the panel that belongs to the same tab.
HEAD = """
<script>
document.addEventListener('click', function (event) {
  const link = event.target.closest && event.target.closest('a.cite');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  const href = link.getAttribute('href') || '';
  const n = (link.dataset && link.dataset.n) || (href.indexOf('#source-') === 0 ? href.slice(8) : '');
  const inAsk = link.closest('#ask-tab');
  const panel = document.querySelector(inAsk ? '#ask-sources' : '#sources-panel');
  if (!panel || !n) return;
  const item = panel.querySelector('details.source[data-n="' + n + '"]');
  if (!item) return;
  item.open = true;
  item.scrollIntoView({behavior: 'smooth', block: 'nearest'});
  item.classList.add('flash');
  setTimeout(function () { item.classList.remove('flash'); }, 1500);
}, true);
</script>
"""
