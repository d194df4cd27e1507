/** The shipped mode presets (config/modes/<mode>.yaml), which every config is merged over. */
export const MODES_DIR = new URL('../../config/modes/', import.meta.url);
export const MODES = ['adaptive', 'aggressive', 'conservative'];
